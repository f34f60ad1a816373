import sys
from pathlib import Path

# Tests import the program's own packages (stacks/, components/) the way Pulumi runs it: from the
# project root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

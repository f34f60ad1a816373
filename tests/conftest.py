import sys
from pathlib import Path

# Tests import the program's own packages (stacks/, components/) the way Pulumi runs it: from the
# project root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


import pytest  # noqa: E402 - after the path is set


@pytest.fixture
def fake_azure(monkeypatch):
    """Preflight inside a program run answers from tests/fake_azure.py instead of Azure."""
    from scripts.offline import SUBSCRIPTION
    from stacks import preflight
    from tests.fake_azure import FakeAzure

    azure = FakeAzure()
    monkeypatch.setattr(preflight, "make_capacity", lambda subscription: azure)
    monkeypatch.setattr(preflight, "find_subscription", lambda settings, env=None: SUBSCRIPTION)
    return azure

"""kaito-aks: an AKS cluster with the KAITO add-on serving one open model. Settings -> compose -> export."""

import pulumi

from stacks.compose import compose
from stacks.settings import read_settings

for name, value in compose(read_settings()).items():
    pulumi.export(name, value)

"""kaito-aks: an AKS cluster with the KAITO add-on serving one open model.

Settings -> preflight (Azure has the VMs?) -> compose -> export.
"""

import pulumi

from stacks.compose import compose
from stacks.preflight import apply_preflight
from stacks.settings import read_settings

for name, value in compose(apply_preflight(read_settings(), log=pulumi.log.info)).items():
    pulumi.export(name, value)

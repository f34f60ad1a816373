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


def pytest_configure(config):
    config.addinivalue_line("markers", "background(name): the test uses tests/background.py's command <name>")
    _read_kubernetes_schemas_once()


def _read_kubernetes_schemas_once() -> None:
    """kubernetes-validate lists its schema folders and parses the 1.4 MB definitions file again on every call: the
    same files, so each is read once per session (the validation itself is unchanged)."""
    import functools

    from kubernetes_validate import utils

    utils.all_versions = functools.cache(utils.all_versions)
    utils.schema_contents = functools.cache(utils.schema_contents)


def pytest_collection_modifyitems(session, config, items):
    """Start, in the background, every slow command a collected test will ask for."""
    from tests import background, background_commands  # noqa: F401 - registers the commands

    for item in items:
        for marker in item.iter_markers("background"):
            background.start(marker.args[0])

"""The layout shows the architecture: config -> profiles and catalog -> compose -> components, with the
tools beside it; each layer imports only the ones below it, and nothing imports in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("stacks", "components", "scripts")
# Data only: facts and tables, importing nothing but other data.
DATA_MODULES = {"stacks.catalog", "stacks.prices", "stacks.regions", "stacks.profiles", "stacks.images",
                "stacks.config_kinds"}


def project_modules() -> dict[str, Path]:
    modules = {"__main__": ROOT / "__main__.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            modules[name] = path
    return modules


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Project modules a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {name for name in names if name in known}
    return found


MODULES = project_modules()
GRAPH = {name: imports_of(path, set(MODULES)) - {name} for name, path in MODULES.items()}


def test_the_graph_is_read():
    assert "stacks.settings" in GRAPH["__main__"]
    assert "stacks.catalog" in GRAPH["stacks.install_modes"]


@pytest.mark.parametrize("module", [name for name in MODULES if name.startswith("components")])
def test_components_never_read_config_nor_import_the_program_or_its_tools(module):
    assert not {name for name in GRAPH[module] if name.startswith(("stacks", "scripts"))}
    assert "pulumi.Config" not in MODULES[module].read_text() and "get_config" not in MODULES[module].read_text()


@pytest.mark.parametrize("module", [name for name in MODULES if name.startswith("stacks")] + ["__main__"])
def test_the_program_never_imports_the_tools_beside_it(module):
    assert not {name for name in GRAPH[module] if name.startswith("scripts")}


@pytest.mark.parametrize("module", sorted(DATA_MODULES))
def test_data_modules_import_only_data(module):
    assert GRAPH[module] <= DATA_MODULES, GRAPH[module] - DATA_MODULES


def test_config_is_read_in_one_place():
    readers = [name for name, path in MODULES.items() if "pulumi.Config(" in path.read_text()]
    assert readers == ["stacks.settings"]


def test_no_module_imports_itself_through_others():
    def cycle_from(start: str) -> list[str]:
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for following in GRAPH[node]:
                if following == start:
                    return path + [start]
                if following not in seen:
                    seen.add(following)
                    stack.append((following, path + [following]))
        return []

    cycles = [" -> ".join(cycle) for name in MODULES if (cycle := cycle_from(name))]
    assert cycles == []


def test_main_stays_a_few_lines_of_intent():
    body = ast.parse((ROOT / "__main__.py").read_text()).body
    statements = [node for node in body if not isinstance(node, (ast.Import, ast.ImportFrom))
                  and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    assert len(statements) == 1 and len(ast.unparse(statements[0]).splitlines()) <= 2


def test_ruff_finds_nothing():
    import subprocess
    import sys

    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run([str(ruff), "check", "--no-cache", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

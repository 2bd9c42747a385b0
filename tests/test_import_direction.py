"""Dependencies point one way (DESIGN.md): a package imports only the packages listed for it."""

from __future__ import annotations

import ast
from pathlib import Path

import forethought

ROOT = Path(forethought.__file__).parent
ALLOWED = {
    "core": set(),
    "data": {"core"},
    "envs": {"core"},
    "models": {"core"},
    "planning": {"core", "models"},
    "training": {"core", "data", "models"},
    "eval": {"core", "data", "envs", "models", "planning", "training"},
}


def imported_packages(path: Path) -> set[str]:
    """The forethought sub-packages a file imports (top-level and function-level imports)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "forethought" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_packages_import_only_what_they_may():
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            bad = imported_packages(path) - allowed - {package}
            if bad:
                wrong.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not wrong, wrong


def test_nothing_imports_the_cli():
    for path in ROOT.rglob("*.py"):
        if "cli" not in path.relative_to(ROOT).parts:
            assert "cli" not in imported_packages(path), path

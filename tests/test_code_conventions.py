"""Conventions of the library's own code that no linter rule states, read from its source.

- No function hands its `locals()` on: the arguments a call forwards are named, so a
  renamed parameter or a new local variable cannot silently change what is forwarded,
  and mypy checks every name and type.
- No module imports another module's underscore names: what a module offers its
  neighbours is its public surface.
- Every module says what that surface is, in `__all__` (a `__main__` is a script).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The library's folders (see `[tool.setuptools.package-dir]`).
PACKAGES = (
    "hogkit",
    "core",
    "transport",
    "cli",
    "integrations",
    "fleet",
    "openfeature_provider",
    "testing",
)
MODULES = sorted(path for folder in PACKAGES for path in (ROOT / folder).glob("*.py"))


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def locals_calls(source: str) -> list[int]:
    """The lines that call `locals()`."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "locals"
    ]


def private_imports(source: str) -> list[str]:
    """Underscore names imported from another module (`from x import _y`); dunder names
    such as `__version__` are public."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.endswith("__"):
                    found.append(f"{node.module}.{alias.name}")
    return found


def test_the_library_has_modules_to_check() -> None:
    assert len(MODULES) > 100
    assert {path.parent.name for path in MODULES} >= {"core", "transport", "cli"}


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_forwards_its_locals(path: Path) -> None:
    assert locals_calls(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_no_module_imports_underscore_names(path: Path) -> None:
    assert private_imports(path.read_text(encoding="utf-8")) == []


def declares_all(source: str) -> bool:
    """Whether the module assigns `__all__` at its top level."""
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return True
    return False


@pytest.mark.parametrize(
    "path", [path for path in MODULES if path.name != "__main__.py"], ids=_name
)
def test_every_module_declares_its_public_names(path: Path) -> None:
    assert declares_all(path.read_text(encoding="utf-8"))


def test_the_checks_find_what_they_look_for() -> None:
    forwarding = "def f(a, b):\n    return g(**locals())\n"
    assert locals_calls(forwarding) == [2]
    assert locals_calls("def f(a):\n    return g(a=a)\n") == []
    assert private_imports("from .flags import _service, public\n") == ["flags._service"]
    assert private_imports("from hogkit.core.version import __version__\n") == []
    assert declares_all('__all__ = ["f"]\n')
    assert declares_all("__all__: list[str] = []\n")
    assert not declares_all("def f():\n    __all__ = []\n")

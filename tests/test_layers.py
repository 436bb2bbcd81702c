"""The layers, read from the source with ``ast`` (nothing is imported).

From the bottom: ``booking.models`` imports nothing else of ours; ``booking.services`` is
Flask-free; ``booking.web`` holds request-level code the blueprints share; each blueprint
package (a package under booking/ that creates a ``Blueprint``) imports none of the others, and
the shared package imports none of them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_free  # source reading only: CI runs it once, not on each backend

ROOT = Path(__file__).resolve().parent.parent
BOOKING = ROOT / "booking"
SHARED = "booking.web"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, ast.Module]:
    """Every module under booking/, parsed."""
    return {
        _module_name(path): ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for path in sorted(BOOKING.rglob("*.py"))
    }


def _imports(module: str) -> Iterator[tuple[str, int]]:
    """The modules a module imports, anywhere in it (function bodies too), with the line."""
    is_package = (ROOT / module.replace(".", "/") / "__init__.py").exists()
    for node in ast.walk(_modules()[module]):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from booking import errors`` imports the module booking.errors.
            submodules = [name for a in node.names if (name := f"{base}.{a.name}") in _modules()]
            yield from ((name, node.lineno) for name in submodules or [base])


def _package(name: str) -> str:
    """booking.X for anything in booking/X/ (or the top-level module booking.X)."""
    return ".".join(name.split(".")[:2])


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _creates_blueprint(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == "Blueprint") or (
                isinstance(func, ast.Attribute) and func.attr == "Blueprint"
            ):
                return True
    return False


def _blueprint_packages() -> set[str]:
    """The packages under booking/ in which a Blueprint is created."""
    return {
        _package(name)
        for name, tree in _modules().items()
        if name.count(".") >= 1
        and (BOOKING / name.split(".")[1]).is_dir()
        and _creates_blueprint(tree)
    }


def _is_flask(name: str) -> bool:
    top = name.split(".")[0]
    return top == "flask" or top.startswith("flask_")


@cache
def _reaching_flask() -> frozenset[str]:
    """Our modules that import Flask, directly or through other modules of ours."""
    reaching = {m for m in _modules() if any(_is_flask(name) for name, _ in _imports(m))}
    grown = True
    while grown:
        grown = False
        for module in _modules().keys() - reaching:
            if any(name in reaching for name, _ in _imports(module)):
                reaching.add(module)
                grown = True
    return frozenset(reaching)


def _offences(inside: str, refuse: str) -> list[str]:
    """Each import, by a module in package ``inside``, of something in package ``refuse``."""
    return [
        f"{module} (line {line}) imports {name}"
        for module in _modules()
        if _inside(module, inside)
        for name, line in sorted(set(_imports(module)), key=lambda found: found[1])
        if _inside(name, refuse) and not _inside(name, inside)
    ]


def test_the_blueprint_packages_are_found() -> None:
    found = _blueprint_packages()
    assert {"booking.resident", "booking.api", "booking.waiting", "booking.staff"} <= found
    assert SHARED not in found and "booking.services" not in found


def test_no_blueprint_package_imports_another() -> None:
    blueprints = _blueprint_packages()
    offences = [
        offence for own in blueprints for other in blueprints for offence in _offences(own, other)
    ]
    assert offences == [], "a blueprint imports another blueprint's code:\n" + "\n".join(offences)


def test_the_shared_request_code_imports_no_blueprint() -> None:
    offences = [offence for bp in _blueprint_packages() for offence in _offences(SHARED, bp)]
    assert offences == [], f"{SHARED} imports a blueprint:\n" + "\n".join(offences)


def test_the_models_import_nothing_above_them() -> None:
    offences = _offences("booking.models", "booking")
    assert offences == [], "booking.models imports from above it:\n" + "\n".join(offences)


def test_the_services_are_flask_free() -> None:
    above = sorted(_blueprint_packages() | {SHARED})
    offences = [offence for package in above for offence in _offences("booking.services", package)]
    # A module of ours that brings Flask in is named where it is first imported; the services
    # and models among themselves are checked on their own, so one slip is reported once.
    below = ("booking.services", "booking.models")
    for module in _modules():
        if _inside(module, "booking.services"):
            offences += [
                f"{module} (line {line}) imports {name}"
                for name, line in sorted(set(_imports(module)), key=lambda found: found[1])
                if _is_flask(name)
                or (name in _reaching_flask() and not any(_inside(name, p) for p in below))
            ]
    assert offences == [], "booking.services reaches Flask or the web layer:\n" + "\n".join(
        offences
    )

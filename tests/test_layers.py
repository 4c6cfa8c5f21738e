"""The layers of DESIGN.md, read off the code: imports only point down.

``providers`` <- ``campaigns`` <- ``worker`` <- ``smsq``: every import statement of every
module (those inside functions too, read with ``ast``) may name its own layer or one below,
never one above. Inside ``providers``, the adapters never import the sandbox, and the sandbox
imports from the rest of ``providers`` only the shared vocabulary, so that it stays an
independent check on the adapters. ``bench`` and ``tests`` sit above everything; nothing in
the packages imports them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = {"providers": 0, "campaigns": 1, "worker": 2, "smsq": 3, "bench": 4, "tests": 4}
PACKAGES = ("providers", "campaigns", "worker", "smsq")
SANDBOX = "providers.sandbox"
# What the sandbox may take from the rest of providers: names and shapes, never behaviour.
SANDBOX_VOCABULARY = ("providers._accounts", "providers._vocabulary")


@dataclass(frozen=True)
class Import:
    """One imported module name, and where the import statement is."""

    module: str
    path: Path
    line: int

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def module_name(path: Path) -> str:
    """``worker/dispatch.py`` -> ``worker.dispatch``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[Import]:
    """Every module an ``import`` or ``from ... import`` in ``path`` names, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, path, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, package)
            yield Import(base, path, node.lineno)
            for alias in node.names:  # "from worker import tasks" imports worker.tasks
                yield Import(f"{base}.{alias.name}", path, node.lineno)


def _resolve(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    base = parts[: len(parts) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def layer_of(module: str) -> int | None:
    """The layer of an smsq module name; None for the standard library and third parties."""
    return LAYERS.get(module.split(".", 1)[0])


def violations(path: Path) -> list[str]:
    """Each import in ``path`` that points up a layer or breaks the providers' inner rule."""
    own = module_name(path)
    own_layer = layer_of(own)
    assert own_layer is not None, path
    found = []
    for imp in imports_of(path):
        target = layer_of(imp.module)
        if target is None:
            continue
        if target > own_layer:
            found.append(f"{imp.where()}: {own} (layer {own_layer}) imports {imp.module}")
        elif own.startswith("providers."):
            found.extend(_providers_rule(own, imp))
    return found


def _providers_rule(own: str, imp: Import) -> list[str]:
    inside_sandbox = own == SANDBOX or own.startswith(SANDBOX + ".")
    to_sandbox = imp.module == SANDBOX or imp.module.startswith(SANDBOX + ".")
    if not inside_sandbox and to_sandbox:
        return [f"{imp.where()}: adapter module {own} imports the sandbox ({imp.module})"]
    if inside_sandbox and imp.module.startswith("providers") and not to_sandbox:
        allowed = imp.module in ("providers", *SANDBOX_VOCABULARY) or any(
            imp.module.startswith(v + ".") for v in SANDBOX_VOCABULARY
        )
        # "from providers._accounts import X" also yields "providers" itself: the package
        # is only a namespace there. A bare "from providers import X" names its __init__,
        # which re-exports the adapters' helpers: refused by the explicit check below.
        if not allowed:
            return [f"{imp.where()}: sandbox module {own} imports {imp.module}"]
    return []


def _sources(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_only_point_down(package: str) -> None:
    sources = _sources(package)
    assert sources, f"no modules found under {package}/"
    found = [v for path in sources for v in violations(path)]
    assert found == [], "\n".join(found)


def test_the_sandbox_does_not_use_the_providers_package_namespace() -> None:
    # "from providers import Account" runs providers/__init__, which pulls in every adapter
    # helper; the sandbox must name the vocabulary modules themselves.
    found = []
    for path in _sources(SANDBOX.replace(".", "/")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "providers" and not node.level:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Import) and any(a.name == "providers" for a in node.names):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == [], found


@pytest.mark.parametrize(
    ("where", "source", "expected"),
    [
        ("campaigns/x.py", "def f():\n    from worker import tasks\n", "campaigns.x (layer 1)"),
        ("providers/x.py", "import smsq.cli\n", "providers.x (layer 0) imports smsq.cli"),
        ("worker/x.py", "from smsq import views\n", "worker.x (layer 2) imports smsq"),
        ("providers/aakash.py", "from providers.sandbox import state\n", "imports the sandbox"),
        ("providers/sandbox/x.py", "from providers.aamarsms import LIMITS\n", "sandbox module"),
        ("worker/x.py", "from .dispatch import install\n", None),  # relative: same package
        ("smsq/x.py", "import worker\nfrom campaigns import api\n", None),
        ("providers/sandbox/x.py", "from providers._accounts import ProviderName\n", None),
    ],
)
def test_the_checker_names_file_and_line_of_a_back_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, source: str, expected: str | None
) -> None:
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    path = tmp_path / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)
    found = violations(path)
    if expected is None:
        assert found == []
    else:
        assert found and expected in found[0], found
        assert found[0].startswith(
            f"{where}:{source.count(chr(10), 0, source.index('import')) + 1}"
        )

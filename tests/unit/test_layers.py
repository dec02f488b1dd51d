"""The package's floors: imports in `model/` only point down, and neither `model/` nor `ui/` has an import circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Floors of `model/`, lowest first; a module may import its own floor and those below it.
LAYERS = ("config", "errors", "files", "thresholds"), ("inputs",), ("runtime",), ("tasks",), ("evaluation",), ("jobs",)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every module of ours that `path` imports, at the top or inside a function (lazy imports count too)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {item for item in found if item.split(".")[0] in {"model", "ui"}}


def _graph(package: str) -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in (ROOT / package).rglob("*.py")}
    return {
        name: {target for target in _imports(path) if target in modules and target != name}
        for name, path in modules.items()
    }


def _floor(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 2 or parts[1] == "__main__":
        return None  # the package's public face and the CLI sit on top of everything
    return next(index for index, names in enumerate(LAYERS) if parts[1] in names)


def test_model_imports_only_point_down() -> None:
    upward = [
        f"{module} (floor {LAYERS[_floor(module)][0]}) imports {target}"
        for module, targets in _graph("model").items()
        if _floor(module) is not None
        for target in targets
        if _floor(target) is None or _floor(target) > _floor(module)
    ]
    assert not upward, "\n".join(upward)


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("package", ["model", "ui"])
def test_no_import_circle(package: str) -> None:
    graph = {
        module: {target for target in targets if not (target == package or module.startswith(f"{target}."))}
        for module, targets in _graph(package).items()
    }
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_every_floor_says_what_it_holds_and_may_import() -> None:
    for folder in sorted(path.parent for path in (ROOT / "model").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text()))
        assert doc and "import" in doc, f"model/{folder.name}/__init__.py needs a docstring saying what it may import"

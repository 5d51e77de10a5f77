"""The import structure CI enforces (README, "Where things live"):

1. no import cycle between the project's modules, counting imports inside functions too (a module
   importing its own package's __init__ is how packages work, and is not counted);
2. layers: genpo (the library) imports none of the applications (finetune, pretrain, the LeRobot
   plugin) or tools (tools, benchmarks); finetune and pretrain do not import each other or the tools.
"""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("genpo", "finetune", "pretrain", "lerobot_policy_genpo", "tools", "benchmarks")
MAY_IMPORT = {  # top-level package -> the project packages it may import (besides itself)
    "genpo": set(),
    "finetune": {"genpo"},
    "pretrain": {"genpo"},
    "lerobot_policy_genpo": {"genpo"},
    "tools": {"genpo", "finetune", "pretrain"},
    "benchmarks": {"genpo", "finetune", "pretrain", "tools"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if path.parent.name == "lerobot_policy_genpo":  # the plugin's distribution maps its folder to the package
        parts = ["lerobot_policy_genpo", *parts[1:]]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py") if ".venv" not in p.parts}


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules `name` imports anywhere in its file (the most specific module of each import)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # a name inside a module -> that module
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                out.add(target)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_layers():
    wrong = sorted(f"{name} imports {target}" for name, targets in import_graph().items() for target in targets
                   if target.split(".")[0] != name.split(".")[0]
                   and target.split(".")[0] not in MAY_IMPORT[name.split(".")[0]])
    assert wrong == []


def test_the_checks_find_a_cycle_and_a_layer_break():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = import_graph()
    assert "genpo.policies" in graph["genpo.checkpoint"] and "genpo.checkpoint" in graph["finetune.runner"]

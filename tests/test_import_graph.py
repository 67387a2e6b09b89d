"""The core knows no family: no import cycle, and nothing outside lthlib/families/ imports or names one."""

import ast
from pathlib import Path

from lthlib import families

LTHLIB = Path(__file__).parents[1] / "lthlib"
# the paper's claims are claims about its families: the scorecard names them by design
PAPER_LAYER = {"scorecard", "claims", "claims_rl", "claims_nlp"}


def module_name(path: Path) -> str:
    parts = path.relative_to(LTHLIB.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The lthlib modules `path` imports, at module level or inside a function (`from lthlib import x` counts
    x where it is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lthlib")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lthlib"):
            package = LTHLIB.parent / node.module.replace(".", "/")
            submodules = {f"{node.module}.{a.name}" for a in node.names
                          if (package / f"{a.name}.py").exists() or (package / a.name / "__init__.py").exists()}
            found |= submodules if len(submodules) == len(node.names) else submodules | {node.module}
    return found


GRAPH = {module_name(p): imports(p) for p in LTHLIB.rglob("*.py")}


def test_no_import_cycle():
    done, path = set(), []

    def visit(module):
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(module):] + [module]))
        if module in done or module not in GRAPH:
            return
        path.append(module)
        for target in sorted(GRAPH[module]):
            visit(target)
        path.pop()
        done.add(module)

    for module in sorted(GRAPH):
        visit(module)


def test_no_core_module_imports_a_family_except_through_the_registry():
    core = {m: targets for m, targets in GRAPH.items() if not m.startswith("lthlib.families")}
    reaching = {m: sorted(t for t in targets if t.startswith("lthlib.families.")) for m, targets in core.items()}
    assert {m: t for m, t in reaching.items() if t} == {}


def test_no_core_module_names_a_family():
    names = set(families.names())
    naming = {}
    for path in LTHLIB.glob("*.py"):
        if path.stem in PAPER_LAYER:
            continue
        constants = {n.value for n in ast.walk(ast.parse(path.read_text()))
                     if isinstance(n, ast.Constant) and isinstance(n.value, str)}
        if constants & names:
            naming[path.stem] = sorted(constants & names)
    assert naming == {}

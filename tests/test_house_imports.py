"""The shape of the library: no import circles, every fact defined once, light CLI modules.

Read from the source with :mod:`ast` (nothing is imported), so the checks see every import,
also those inside functions that run only on some code paths:

* the import graph of ``src/lesionbench`` (module-level and function-level imports, relative
  ones resolved; imports under ``if TYPE_CHECKING:`` are left out, they never run) has no cycle;
* no two modules define the same top-level UPPER_CASE constant or the same top-level function
  (a short list of per-module entry-point names is allowed);
* the modules a ``cli.py`` imports at module level, followed transitively, import no numpy,
  scipy, pandas or other heavy package at module level;
* the modules the workflow imports when it is parsed import no scientific package besides
  numpy and pandas: Snakemake parses the workflow once per job on a cluster (twice for a job of
  a group), so a second of scipy imports there is paid by every job.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "lesionbench"

#: Function names every verb or script-facing module may define for itself: the verb's entry
#: point (``run``), the sub-parser registration (``add_parser``) and the script's ``main``.
SHARED_FUNCTION_NAMES = frozenset({"main", "run", "add_parser"})

WORKFLOW = SRC.parent / "workflow"

HEAVY = ("numpy", "scipy", "pandas", "nibabel", "matplotlib", "torch", "SimpleITK", "ants", "sklearn", "monai")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / PACKAGE).rglob("*.py"))}


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST, *, top_level_only: bool = False) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that run, skipping ``if TYPE_CHECKING:`` bodies (and, with
    ``top_level_only``, everything inside functions)."""
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if top_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _resolve(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """Absolute names a statement in ``module`` imports (submodules of ``from X import sub`` included)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    if node.level:
        is_package = MODULES[module].name == "__init__.py"
        base = module.split(".")
        base = base if is_package else base[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    yield target
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        if sub in MODULES:
            yield sub


def _parse(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))


def import_graph(*, top_level_only: bool = False, internal: bool = True) -> dict[str, set[str]]:
    """``module -> modules it imports`` (only lesionbench modules when ``internal``)."""
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        targets = set()
        for node in _import_nodes(_parse(module), top_level_only=top_level_only):
            for name in _resolve(module, node):
                if not internal or (name in MODULES and name != module):
                    targets.add(name)
        graph[module] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a closed path, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_graph_sees_relative_and_function_level_imports():
    graph = import_graph()
    assert "lesionbench.errors" in graph["lesionbench.consensus.cli"]  # from ..errors import ...
    # imported inside run_import only
    assert "lesionbench.cohort.importers" in graph["lesionbench.cohort.cli"]
    assert "lesionbench.cohort.importers" not in import_graph(top_level_only=True)["lesionbench.cohort.cli"]


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def _top_level_definitions(module: str) -> tuple[set[str], set[str]]:
    """(UPPER_CASE constants, functions) a module defines at top level (imports excluded)."""
    constants: set[str] = set()
    functions: set[str] = set()
    for node in _parse(module).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.add(node.name)
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id.isupper() and not target.id.startswith("_"):
                constants.add(target.id)
    return constants, functions


def _duplicates(kind: int, allowed: frozenset[str] = frozenset()) -> dict[str, list[str]]:
    owners: dict[str, list[str]] = defaultdict(list)
    for module in MODULES:
        for name in _top_level_definitions(module)[kind]:
            if name not in allowed and not name.startswith("_"):
                owners[name].append(module)
    return {name: sorted(mods) for name, mods in owners.items() if len(mods) > 1}


def test_every_constant_defined_once():
    assert _duplicates(0) == {}


def test_every_function_defined_once():
    assert _duplicates(1, SHARED_FUNCTION_NAMES) == {}


def _cli_modules() -> list[str]:
    return sorted(m for m in MODULES if m == f"{PACKAGE}.cli" or m.endswith(".cli"))


@pytest.mark.parametrize("cli", _cli_modules())
def test_cli_modules_import_no_science_at_module_level(cli):
    """Everything a verb module imports when it is loaded (its package ``__init__``s and their
    module-level imports, transitively) imports no heavy package at module level."""
    heavy = _transitive_heavy([cli])
    assert heavy == []


def _transitive_heavy(roots: list[str]) -> list[str]:
    """``module: package`` for every heavy package imported at module level by ``roots`` or the
    modules (and packages) they import at module level, transitively."""
    top = import_graph(top_level_only=True)
    external = import_graph(top_level_only=True, internal=False)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # packages run first
        todo.extend(top[module])
    return sorted(f"{module}: {name}" for module in seen for name in external[module] if name.split(".")[0] in HEAVY)


def _workflow_imports() -> list[str]:
    """The lesionbench modules the Snakefile and the rule files import at their top level."""
    found: set[str] = set()
    for path in [WORKFLOW / "Snakefile", *sorted((WORKFLOW / "rules").glob("*.smk"))]:
        for match in re.finditer(r"^from (lesionbench[\w.]*) import (\([^)]*\)|[\w ,]+)", path.read_text(), re.M):
            module = match.group(1)
            found.add(module)
            names = match.group(2).strip("()").split(",")
            found |= {f"{module}.{name.split(' as ')[0].strip()}" for name in names} & set(MODULES)
        found |= set(re.findall(r"^import (lesionbench[\w.]*)", path.read_text(), re.M))
    return sorted(found)


def test_workflow_parse_imports_no_science_beyond_numpy_and_pandas():
    modules = _workflow_imports()
    assert "lesionbench.workflow.config" in modules and "lesionbench.consensus.settings" in modules
    heavy = [
        entry for entry in _transitive_heavy(modules) if entry.split(": ")[1].split(".")[0] not in ("numpy", "pandas")
    ]
    assert heavy == []


def _lazy_packages() -> list[str]:
    return sorted(m for m, p in MODULES.items() if p.name == "__init__.py" and "lazy_exports" in p.read_text())


def test_the_stage_packages_are_lazy():
    assert {"lesionbench.consensus", "lesionbench.metrics", "lesionbench.ranking", "lesionbench.synth"} <= set(
        _lazy_packages()
    )


@pytest.mark.parametrize("package", _lazy_packages())
def test_lazy_package_lists_agree(package):
    """The names imported under TYPE_CHECKING, the ``_EXPORTS`` table and ``__all__`` agree,
    and every exported name is defined (or imported) by the module it is listed under."""
    tree = _parse(package)
    typed: dict[str, set[str]] = defaultdict(set)
    exports: dict[str, set[str]] = {}
    listed: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom) and imp.level == 1 and imp.module:
                    typed[imp.module] |= {a.name for a in imp.names}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == "_EXPORTS":
            value = ast.literal_eval(node.value)  # type: ignore[arg-type]
            exports = {module: set(names) for module, names in value.items()}
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            listed = set(ast.literal_eval(node.value))
    assert dict(typed) == exports
    assert listed == set().union(*exports.values())
    # An exported name that is also a submodule's name would be shadowed by the module object
    # once anything imports that submodule (``cs.map_staple`` must be the function).
    submodules = {
        m.rsplit(".", 1)[1] for m in MODULES if m.startswith(f"{package}.") and m.count(".") == package.count(".") + 1
    }
    assert listed & submodules == set()
    for module, names in exports.items():
        source = MODULES[f"{package}.{module}"].read_text()
        for name in names:
            assert name in source, f"{package}.{module} does not define {name}"

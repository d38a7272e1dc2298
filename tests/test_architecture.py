"""The package's import graph: no cycles, no private names across modules, rooms import only
the rooms below them, and a short top level. Read from the source with ast (nothing imported)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bayeslaws"

# Each room may import only the rooms listed (besides itself). The order is the data flow:
# data -> laws/links -> model -> terms -> synthetic -> inference -> results -> cli.
ALLOWED = {
    "data": set(),
    "datasets": {"data"},
    "laws": {"data"},
    "links": {"data", "laws"},
    "model": {"data", "laws", "links"},
    "terms": {"data", "laws", "links", "model"},
    "synthetic": {"data", "laws", "terms"},
    "inference": {"data", "laws", "links", "model", "synthetic"},
    "results": {"data", "laws", "links", "model", "terms", "synthetic", "inference"},
    "cli": {"data", "datasets", "laws", "links", "model", "terms", "synthetic", "inference", "results", "__init__"},
    "__init__": set(),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """(imported module, imported names) for every import statement, at any depth, absolute."""
    tree = ast.parse(path.read_text())
    here = module_name(path).split(".")
    package = here if is_package(path) else here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.append((target, [alias.name for alias in node.names]))
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {name: set() for name in modules}
    for name, path in modules.items():
        for target, names in imports(path):
            if not target.startswith("bayeslaws"):
                continue
            # "from package import submodule" imports the submodule; any other name comes from
            # the package's __init__ (or the module) itself
            submodules = {f"{target}.{n}" for n in names} & set(modules)
            edges[name] |= submodules
            if target in modules and (not names or len(submodules) < len(names)):
                edges[name].add(target)
    return edges


def room(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def test_no_import_cycles():
    edges = graph()
    # A package's __init__ importing its own submodules is how it re-exports them; a submodule
    # importing its own package's __init__ would close a cycle and is counted.
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_no_private_names_imported_across_modules():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for target, names in imports(path):
            private = [n for n in names if n.startswith("_") and n != "__future__"]
            if target.startswith("bayeslaws") and private and target != module_name(path):
                offenders.append((module_name(path), target, private))
    assert not offenders, offenders


def test_rooms_import_only_the_rooms_below_them():
    wrong = []
    for module, targets in graph().items():
        for target in targets:
            if room(target) != room(module) and room(target) not in ALLOWED[room(module)]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, wrong


def test_top_level_is_short_and_every_room_is_known():
    top = sorted(p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
                 if (p.is_file() and p.suffix == ".py") or (p / "__init__.py").exists())
    assert len(top) <= 12, top
    assert set(top) <= set(ALLOWED), set(top) - set(ALLOWED)

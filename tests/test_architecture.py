"""The package's imports, read from the source: no import cycle anywhere (imports inside functions included),
the encoder and the decoder never import each other, and ``common/`` imports nothing above it."""
import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FOLDERS = ("common", "encoder", "decoder", "anchors", "ctc_scripts", "cfg")


def _modules() -> dict[str, Path]:
    found = {}
    for folder in FOLDERS:
        for path in (REPO / folder).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(("icm",) + (parts[:-1] if parts[-1] == "__init__" else parts))
            found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The icm modules that module ``name`` imports, wherever in the file the import is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from package import module" imports the module; "from module import name" the module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def test_the_walk_finds_the_known_imports():
    graph = import_graph()
    assert "icm.common.registry" in graph["icm.encoder.pipeline"]
    assert "icm.ctc_scripts.ctc.records" in graph["icm.ctc_scripts.ctc.report"]
    assert "icm.common.paths" in graph["icm.common.tasknet.yolo_fastest"]  # "from .. import paths"


# Cycles known when this test was written, in modules of another work in progress (the npp-vvc training, whose
# owner breaks it): listed so that the suite stays usable meanwhile; any other cycle fails, and so does this
# list once the cycle is gone (then delete the list).
KNOWN_CYCLES: list = []


def test_no_import_cycle():
    cycles = _cycles(import_graph())
    assert [c for c in cycles if c not in KNOWN_CYCLES] == []
    assert [c for c in KNOWN_CYCLES if c not in cycles] == [], "a known cycle is gone: delete it from KNOWN_CYCLES"


def test_encoder_and_decoder_never_import_each_other():
    graph = import_graph()
    for side, other in (("icm.encoder", "icm.decoder"), ("icm.decoder", "icm.encoder")):
        wrong = {m: sorted(t for t in targets if t == other or t.startswith(other + "."))
                 for m, targets in graph.items() if m == side or m.startswith(side + ".")}
        assert not {m: t for m, t in wrong.items() if t}


def test_common_imports_nothing_above_it():
    above = ("icm.encoder", "icm.decoder", "icm.anchors", "icm.ctc_scripts")
    graph = import_graph()
    wrong = {m: sorted(t for t in targets if t.startswith(above))
             for m, targets in graph.items() if m.startswith("icm.common")}
    assert not {m: t for m, t in wrong.items() if t}

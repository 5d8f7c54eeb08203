"""The package's shape: no import cycle inside claims/ (counting imports inside functions), no function over 80 lines, and the
command line loads no web stack (nor torch) to parse its arguments."""

import ast
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "claims"
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def _imports(tree: ast.Module):
    """Every import statement of a module: at module level and inside functions alike, since an
    import moved into a function to dodge a cycle is still a cycle."""
    return [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]


def _resolve(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")[:len(package.split(".")) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the modules of claims/ it imports, anywhere in it. ``from pkg import name`` counts
    as importing ``pkg.name`` where that is a module, else ``pkg``. A module's own enclosing
    packages are left out: they are always imported before it (``from .. import __version__``)."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = _resolve(node, package)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            edges |= {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_inside_the_package():
    graph = import_graph(_modules())
    assert graph["claims.cli"] and graph["claims.analyzer"]     # the graph is read at all
    assert find_cycles(graph) == []


# The layers of the README's tree, lowest first: a module may import from its own layer or a lower one.
LAYERS = [
    ("claims.errors", "claims.labels", "claims.data", "claims.jsonl"),
    ("claims.doc", "claims.disputes", "claims.progress"),
    ("claims.nlp",),
    ("claims.analyzer",),
    ("claims.batch", "claims.spacy_component"),
    ("claims.console",),
    ("claims.cli", "claims.__main__"),
]


def _layer(module: str) -> int:
    for n, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return n
    return len(LAYERS)      # the package itself (the public API) sits on top


def test_modules_import_only_from_their_layer_or_below():
    graph = import_graph(_modules())
    assert all(_layer(m) < len(LAYERS) for m in graph if m != "claims"), [m for m in graph if _layer(m) == len(LAYERS)]
    upward = sorted(f"{m} -> {t}" for m, targets in graph.items() for t in targets if _layer(t) > _layer(m))
    assert upward == []


def test_every_import_inside_the_package_names_a_module_that_exists():
    """Imports inside functions run late: one left pointing at a moved module fails only when called."""
    modules = _modules()
    missing = []
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("claims.")):
                base = _resolve(node, package)
                if base not in modules:
                    missing.append(f"{name}:{node.lineno}: {base}")
            elif isinstance(node, ast.Import):
                missing += [f"{name}:{node.lineno}: {a.name}" for a in node.names
                            if a.name.startswith("claims.") and a.name not in modules]
    assert missing == []


def test_cycle_finder_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_function_over_80_lines():
    long = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert not long, long


def test_analyze_help_loads_no_web_stack_and_no_torch():
    code = ("import sys\nfrom claims.cli import main\ntry:\n    main(['analyze', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'starlette', 'jinja2', 'argon2', 'uvicorn', "
            "'torch', 'anyio'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "usage: claims analyze" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_console_commands_are_listed_without_loading_the_console():
    from claims.cli import build_parser
    sub = build_parser()._subparsers._group_actions[0]
    assert {"serve", "users", "disputes", "import", "analyze", "batch", "stance"} <= set(sub.choices)


# The project's top-level parts, and what each may import: the runtime package at the bottom, then the
# corpora readers, the shared metrics, training, and eval on top. tests/ is imported by none of them.
TOP_LEVEL = {
    "claims": {"claims"},
    "corpora": {"corpora", "claims"},
    "scoring": {"scoring", "corpora", "claims"},
    "training": {"training", "scoring", "corpora", "claims"},
    "eval": {"eval", "training", "scoring", "corpora", "claims"},
}
PROJECT_NAMES = set(TOP_LEVEL) | {"tests"}


def _top_level_sources() -> dict[str, Path]:
    out = {"corpora": ROOT / "corpora.py"}
    for part in ("claims", "scoring", "training", "eval"):
        out |= {_module_name(p): p for p in sorted((ROOT / part).rglob("*.py")) if "__pycache__" not in p.parts}
    return out


def _named_modules(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, module) for every absolute import, and for every string constant naming a module of
    the project as ``python -m`` would (``"tests.standin"``): a subprocess run is an import too."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.append((node.lineno, node.module))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value
              and all(p.isidentifier() for p in node.value.split("."))
              and node.value.split(".")[0] in ("tests", "eval", "training", "scoring")):
            out.append((node.lineno, node.value))
    return out


def upward_imports(sources: dict[str, Path]) -> list[str]:
    """``module:line -> target`` for every import of a project part its own part may not import."""
    bad = []
    for name, path in sources.items():
        part = name.split(".")[0]
        for line, target in _named_modules(ast.parse(path.read_text(encoding="utf-8"))):
            top = target.split(".")[0]
            if top in PROJECT_NAMES and top not in TOP_LEVEL[part]:
                bad.append(f"{name}:{line} -> {target}")
    return sorted(bad)


def test_training_never_imports_eval_and_nothing_imports_tests():
    sources = _top_level_sources()
    assert {"training.stance", "eval.bench", "scoring.metrics", "corpora"} <= set(sources)
    assert upward_imports(sources) == []


def test_upward_import_finder_finds_them(tmp_path):
    (tmp_path / "a.py").write_text("from eval.disputes import gold_claim\nimport json\n")
    (tmp_path / "b.py").write_text("def f():\n    import tests.standin\n    run('tests.standin', [])\n")
    (tmp_path / "c.py").write_text("from scoring.metrics import match_claims\nx = 'e.g.'\n")
    sources = {"training.a": tmp_path / "a.py", "eval.b": tmp_path / "b.py", "training.c": tmp_path / "c.py",
               "claims.c": tmp_path / "c.py"}
    assert upward_imports(sources) == ["claims.c:1 -> scoring.metrics", "eval.b:2 -> tests.standin",
                                       "eval.b:3 -> tests.standin", "training.a:1 -> eval.disputes"]

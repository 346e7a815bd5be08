"""The package's layers, as drawn in duplexlab/__init__.py, hold: who may import whom, no cycles, light import."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "duplexlab"

# the first component of a module's name inside the package decides its layer
PURE = {"errors", "feedback", "measure", "wire"}
FORBIDDEN = {
    "wire": {"runtime", "apps", "clients", "cluster", "show", "lab", "tap", "experiments", "check"},
    "measure": {"runtime", "apps", "clients", "cluster", "show", "lab", "tap", "experiments", "check"},
    "feedback": {
        "wire",
        "measure",
        *{"runtime", "apps", "clients", "cluster", "show", "lab", "tap", "experiments", "check"},
    },
    "errors": {
        "wire",
        "measure",
        "runtime",
        "apps",
        "clients",
        "cluster",
        "show",
        "lab",
        "tap",
        "experiments",
        "check",
    },
    "runtime": {"apps", "clients", "cluster", "show", "lab", "tap", "experiments", "check"},
    "apps": {"clients", "cluster", "show", "lab", "tap", "experiments", "check"},
    "clients": {"show", "lab", "experiments", "check"},
    "tap": {"apps", "clients", "show", "lab", "experiments", "check"},
    "cluster": {"clients", "show", "lab", "tap", "experiments", "check"},
    "lab": {"show", "experiments", "check"},
    "experiments": {"show", "check"},
    "show": {"check"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path):
    """(imported module, where) for each duplexlab import in ``path``; where is "top" or "function"."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, where):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # for type checkers only; never runs
            inner = "function" if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else where
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.startswith("duplexlab"):
                    subs = [
                        f"{target}.{a.name}"
                        for a in child.names
                        if (PACKAGE.parent / f"{target}.{a.name}".replace(".", "/")).with_suffix(".py").exists()
                        or (PACKAGE.parent / f"{target}.{a.name}".replace(".", "/")).is_dir()
                    ]
                    found.extend((t, inner) for t in (subs or [target]))
            elif isinstance(child, ast.Import):
                found.extend((a.name, inner) for a in child.names if a.name.startswith("duplexlab"))
            visit(child, inner)

    visit(tree, "top")
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_layer_imports_only_the_layers_it_may():
    """wire/ and measure import nothing above them; runtime no app; apps no client or display code."""
    broken = []
    for name, path in MODULES.items():
        for target, _ in imports(path):
            if layer(target) in FORBIDDEN.get(layer(name), set()):
                broken.append(f"{name} imports {target}")
    assert broken == []


def test_no_import_hides_in_a_function():
    """Imports of the package's own modules sit at the top of a module, where the layering shows."""
    hidden = [
        f"{name} imports {target} inside a function"
        for name, path in MODULES.items()
        for target, where in imports(path)
        if where == "function"
    ]
    assert hidden == []


def test_no_import_cycles():
    """The graph of top-level imports between the package's modules has no cycle."""
    graph = {
        name: {t for t, where in imports(path) if where == "top" and t in MODULES and t != name}
        for name, path in MODULES.items()
        if name != "duplexlab"
    }
    # a package's __init__ importing its own submodules is not a cycle with them
    for name in graph:
        graph[name] = {t for t in graph[name] if not t.startswith(name + ".")}
    state: dict[str, int] = {}
    cycles = []

    def walk(node, trail):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                cycles.append(" → ".join(trail[trail.index(nxt) :] + [nxt]) if nxt in trail else f"{node} → {nxt}")
            elif nxt not in state:
                walk(nxt, trail + [nxt])
        state[node] = 2

    for name in graph:
        if name not in state:
            walk(name, [name])
    assert cycles == []


@pytest.mark.process
def test_importing_the_package_and_starting_a_lab_loads_no_plotting_or_widget_library():
    """`import duplexlab` and `dl.start()` load neither matplotlib nor ipywidgets; a widget does."""
    code = (
        "import sys, duplexlab as dl\n"
        "lab = dl.start()\n"
        "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'anywidget') if m in sys.modules))\n"
        "dl.widgets\n"
        "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'anywidget') if m in sys.modules))\n"
        "dl.stop()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=PACKAGE.parent, check=True
    ).stdout.splitlines()
    assert out == ["[]", "['anywidget', 'ipywidgets', 'matplotlib']"]

"""The layers import downwards only, read from the code: every .py file's imports at any depth
(module level, inside functions, under `if __name__ == "__main__"`) form a graph with no cycle, and
util/ (the bottom) and components/ import nothing above them. run.py lists, queues and reports
without loading torch."""
import ast
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SKIP = {".git", "log", "__pycache__"}


def module_files(root=ROOT):
    """{dotted module name: path} of every .py file under root (a package is its __init__.py)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if SKIP & set(rel.parts):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(name, path, modules):
    """The project's modules that module `name` imports anywhere in its file: `import a.b` and
    `from a import b` name a.b when that is a module, else a; the packages above it load too."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()

    def add(target):
        parts = target.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__.py and a/b/__init__.py first
            prefix = ".".join(parts[:i])
            if prefix in modules and prefix != name:
                found.add(prefix)

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for a in node.names:
                add(a.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, up level - 1
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1] if package else []
                base = ".".join([*anchor, *([base] if base else [])])
            add(base)
            for a in node.names:
                if f"{base}.{a.name}" in modules:
                    add(f"{base}.{a.name}")
    return found


def import_graph(root=ROOT):
    modules = module_files(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None."""
    state, stack = {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == "open":
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = "done"
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


GRAPH = import_graph()


def test_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, " -> ".join(cycle)


def _layer(module):
    return module.split(".")[0]


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _layer(m) in ("util", "components")))
def test_util_and_components_import_nothing_above_them(module):
    allowed = {"util"} if _layer(module) == "util" else {"util", "components"}
    above = {m for m in GRAPH[module] if _layer(m) not in allowed}
    assert not above, f"{module} imports {sorted(above)}"


def test_the_entry_points_are_imported_by_no_module():
    """The summariser and run.py's parts (sweep/) sit above the layers; only run.py (and tests) use sweep/."""
    for entry in ("main", "run", "debug", "summarize"):
        assert not [m for m, imports in GRAPH.items() if entry in imports and not m.startswith("tests")], entry
    assert {m for m, imports in GRAPH.items() if any(_layer(i) == "sweep" for i in imports)
            and _layer(m) not in ("sweep", "tests")} == {"run"}


def test_models_and_opt_know_no_trainer():
    for module in ("models", "opt", "config", "manager"):
        assert not {m for m in GRAPH[module] if _layer(m) == "trainer"}, module


def test_the_checker_sees_every_kind_of_import(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub.py").write_text("from . import other\n")
    (tmp_path / "pkg" / "other.py").write_text("")
    (tmp_path / "top.py").write_text("import os\n\ndef g():\n    from pkg import sub\n")
    (tmp_path / "low.py").write_text("if __name__ == '__main__':\n    import top\n")
    graph = import_graph(tmp_path)
    assert graph["top"] == {"pkg", "pkg.sub"} and graph["pkg.sub"] == {"pkg", "pkg.other"}
    assert graph["low"] == {"top"}
    (tmp_path / "pkg" / "other.py").write_text("def f():\n    import top\n")
    assert find_cycle(import_graph(tmp_path)) == ["top", "pkg.sub", "pkg.other", "top"]


def _without_torch(code):
    """Run `code` in a fresh interpreter in the repository; it prints whether torch got loaded."""
    p = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint('TORCH', 'torch' in sys.modules)"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().splitlines()[-1] == "TORCH False", p.stderr


def test_run_py_lists_reports_and_queues_without_torch(tmp_path):
    ok, err = _without_torch("import run; assert run.main(['001', '--dry_run']) == 0")
    assert ok, err
    (tmp_path / "jobs.json").write_text(json.dumps({"jobs": {}}))
    ok, err = _without_torch(f"import run; assert run.main(['--status', {str(tmp_path)!r}]) == 0")
    assert ok, err
    # a queued task that fails at once (its input is missing): main.py loads torch, run.py does not
    ok, err = _without_torch(f"import run; rc = run.main(['001', '--only', 'sym_power', '--gpus', '', '--', "
                             f"'--input_path', {str(tmp_path / 'missing.png')!r}, '--save_dir', "
                             f"{str(tmp_path / 'log')!r}]); assert rc == 1, rc")
    assert ok, err


def test_a_failing_gpu_probe_is_one_warning_and_a_cpu_sweep(tmp_path, monkeypatch, capsys):
    import run

    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the driver' >&2\n"
                   "exit 9\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert run.visible_gpus(None) == []
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("warning:") and "CPU" in line and "exit 9" in line
    smi.write_text("#!/bin/sh\nprintf '0\\n1\\n'\n")
    assert run.visible_gpus(None) == ["0", "1"] and capsys.readouterr().err == ""
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")  # the user's choice is what the tasks are given
    assert run.visible_gpus(None) == ["3", "5"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert run.visible_gpus(None) == []
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert run.visible_gpus(None) == [] and capsys.readouterr().err == ""  # no driver: a CPU machine, silently


MAX_FUNCTION_LINES = 60
LONG_FUNCTIONS = set()  # none may be longer


def long_functions(root=ROOT):
    """{module.function (methods: module.Class.method): lines} of every function over MAX_FUNCTION_LINES
    in every .py file under root, nested ones included."""
    out = {}
    for name, path in module_files(root).items():
        def visit(node, prefix):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    qual = f"{prefix}.{child.name}"
                    if not isinstance(child, ast.ClassDef) and child.end_lineno - child.lineno + 1 > MAX_FUNCTION_LINES:
                        out[qual] = child.end_lineno - child.lineno + 1
                    visit(child, qual)
                else:
                    visit(child, prefix)
        visit(ast.parse(path.read_text()), name)
    return out


def test_no_function_is_over_60_lines():
    found = long_functions()
    assert set(found) <= LONG_FUNCTIONS, {k: v for k, v in found.items() if k not in LONG_FUNCTIONS}


def test_the_length_check_sees_methods_and_nested_functions(tmp_path):
    def body(n, indent):
        return "".join(f"{indent}x = {i}\n" for i in range(n))

    (tmp_path / "m.py").write_text("class A:\n    def f(self):\n" + body(60, " " * 8)  # 61 lines
                                   + "def g():\n    def h():\n" + body(60, " " * 8)  # h 61, g 62
                                   + "def exactly_60():\n" + body(59, " " * 4))
    assert long_functions(tmp_path) == {"m.A.f": 61, "m.g": 62, "m.g.h": 61}

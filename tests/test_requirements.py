"""requirements.txt / requirements-test.txt / constraints.txt agree: every third-party module the code
imports is a listed requirement (run time: requirements.txt; tests: either file), and every version CI
pins in constraints.txt lies inside the ranges the requirement files promise."""
import ast
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT


def _requirements(name):
    lines = [line.split("#")[0].strip() for line in (ROOT / name).read_text().splitlines()]
    return {canonicalize_name(r.name): r for r in map(Requirement, filter(None, lines))}


def _imports(files):
    """Top-level names of the modules imported (absolute imports) by these files."""
    names = set()
    for f in files:
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _third_party(files):
    """{distribution: the modules of it imported} for the modules that are neither stdlib nor this project's."""
    local = {p.stem for p in ROOT.glob("*.py")} | {p.name for p in ROOT.iterdir() if any(p.glob("*.py"))}  # data/: a namespace package
    local |= {"tests", "sitecustomize"}
    dists = metadata.packages_distributions()
    out = {}
    for module in _imports(files) - set(sys.stdlib_module_names) - local:
        assert module in dists, f"{module} is imported but no installed distribution provides it"
        for d in dists[module]:
            out.setdefault(canonicalize_name(d), set()).add(module)
    return out


def test_every_import_is_a_requirement():
    runtime = [p for p in ROOT.rglob("*.py") if p.relative_to(ROOT).parts[0] not in ("tests", ".ci", "benchmarks")]
    listed = _requirements("requirements.txt")
    missing = {d: m for d, m in _third_party(runtime).items() if d not in listed}
    assert not missing, f"imported at run time, not in requirements.txt: {missing}"
    listed |= _requirements("requirements-test.txt")
    missing = {d: m for d, m in _third_party(list((ROOT / "tests").rglob("*.py"))).items() if d not in listed}
    missing.pop("packaging", None)  # this test's own; pytest depends on it
    assert not missing, f"imported by the tests, in neither requirements file: {missing}"


def test_constraints_lie_inside_the_promised_ranges():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = Version(version)
    wanted = {**_requirements("requirements.txt"), **_requirements("requirements-test.txt")}
    assert set(wanted) <= set(pins), f"not pinned for CI: {set(wanted) - set(pins)}"
    outside = {n: str(pins[n]) for n, r in wanted.items() if not r.specifier.contains(pins[n], prereleases=True)}
    assert not outside, f"constraints.txt pins versions outside requirements' ranges: {outside}"
    assert all(r.specifier for r in wanted.values()), "every requirement has a range"
    assert str(wanted["hypothesis"].specifier).startswith("=="), "hypothesis's draws follow its version: pin it"

"""Print constraints.txt: `pip freeze` restricted to the dependency closure of requirements.txt and
requirements-test.txt (markers that do not hold here left out), as `name==version`.

    python .ci/constraints.py > constraints.txt   # after a green CI run, on the CI's Python
"""
import os
import platform
import sys
from importlib import metadata

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ("requirements.txt", "requirements-test.txt")


def requirements(path):
    with open(path) as f:
        lines = [line.split("#")[0].strip() for line in f]
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def closure(roots):
    """{name: version} of the installed distributions that `roots` need, with their extras."""
    seen, todo = {}, [(r, frozenset(r.extras)) for r in roots]
    while todo:
        req, extras = todo.pop()
        if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
            continue
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        dist = metadata.distribution(req.name)  # PackageNotFoundError: install the requirements first
        seen[name] = dist.version
        todo += [(Requirement(r), frozenset(req.extras)) for r in dist.requires or []]
    return seen


def main():
    versions = closure([r for f in FILES for r in requirements(os.path.join(ROOT, f))])
    print(f"# The exact versions CI ran with: {', '.join(FILES)} and what they pull in, on Python "
          f"{platform.python_version()} ({sys.platform}, {platform.machine()}).\n"
          f"# Written by `python .ci/constraints.py > constraints.txt`; .ci/run installs with -c constraints.txt.")
    for name in sorted(versions):
        print(f"{name}=={versions[name]}")


if __name__ == "__main__":
    main()

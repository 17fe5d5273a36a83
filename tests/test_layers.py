"""The layers import downwards only: util/ is the bottom, components/ and models.py know no trainer."""
import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

ABOVE_UTIL = {"trainer", "components", "models", "opt", "config", "manager", "main", "run", "debug"}
# util.summarize is an entry point that nothing imports; its --data option transforms images (components)
ENTRY_POINT_MAY_USE = {"summarize.py": {"components"}}


def imported_modules(path):
    """Top-level package names a file imports, at any depth of the file (lazy imports included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "util").glob("*.py")), ids=lambda p: p.name)
def test_util_imports_nothing_above_it(path):
    assert not imported_modules(path) & (ABOVE_UTIL - ENTRY_POINT_MAY_USE.get(path.name, set()))


@pytest.mark.parametrize("path", sorted((ROOT / "components").glob("*.py")) + [ROOT / "models.py"],
                         ids=lambda p: p.name)
def test_components_and_models_import_no_trainer(path):
    assert "trainer" not in imported_modules(path)


def test_the_checker_sees_lazy_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def g():\n    from trainer.base_trainer import predict\n")
    assert imported_modules(Path(f)) == {"trainer"}

"""The declarations (util/declarations.py) against the code that implements them: the torch tables keep
their own names and defaults, and these tests hold them equal; no product file reads another as text."""
import inspect
import subprocess
import sys

import components.sympower as S
from components.loss import LOSSES
from components.signals import MODALITIES
from models import MODELS
from opt import build_parser, defaults
from tests.conftest import ROOT
from trainer.schedule import LR_SCHEDULES
from util import declarations as D
from util.readers import SIGNAL_DIMS

# main.py's transform option -> the constructors' arguments that default to it (sympower.py stays standalone)
LIBRARY = {"trans_shift": [(c, "shift") for c in (S.MinMax, S.BoxCox, S.SymPower)],
           "trans_scale": [(c, "scale") for c in (S.MinMax, S.BoxCox, S.SymPower)],
           "box_shift": [(S.BoxCox, "box_shift")],
           **{k: [(S.SymPower, k)] for k in ("pn_cum", "pn_buffer", "pn_alpha", "pn_k", "pn_beta", "gamma_boundary",
                                             "gamma_trans")}}


def test_the_tables_hold_the_declared_names_and_defaults():
    assert tuple(S.TRANSFORMS) == D.TRANSFORMS
    assert {k: b.defaults for k, b in MODELS.items()} == D.BACKBONES
    assert {k: m.defaults for k, m in MODALITIES.items()} == D.MODALITIES
    assert set(SIGNAL_DIMS) == set(D.MODALITIES)
    assert tuple(LR_SCHEDULES) == D.SCHEDULES
    assert tuple(LOSSES) == D.LOSSES


def test_the_library_defaults_are_the_options():
    opts = defaults()
    transform = [o.name for o in D.OPTIONS if o.group == "transform" and o.kind not in ("str", "flag")]
    assert sorted(LIBRARY) == sorted(transform)
    for option, uses in LIBRARY.items():
        for cls, arg in uses:
            default = inspect.signature(cls).parameters[arg].default
            assert default == opts[option] and type(default) is type(opts[option]), (option, cls.__name__)


def test_every_option_is_declared_once_and_parsed_as_declared():
    names = [o.name for o in D.OPTIONS]
    assert len(names) == len(set(names))
    assert all(o.role in ("fit", "run", "display") and o.group in dict(D.GROUPS) for o in D.OPTIONS)
    assert all(o.rule is None or o.kind in ("int", "float") for o in D.OPTIONS)
    assert defaults() == {o.name: o.default for o in D.OPTIONS}
    help_text = build_parser().format_help()
    assert all(name in help_text for table in (D.TRANSFORMS, D.BACKBONES, D.MODALITIES, D.SCHEDULES, D.LOSSES) for name in table)


def test_no_product_file_reads_another_as_text():
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    product = [f for f in files if f.split("/")[0] not in ("tests", "benchmarks", "docs")]
    for f in product:
        text = (ROOT / f).read_text()
        for needle in ("import ast", "inspect.getsource", "open(__file__", "ast.parse"):
            assert needle not in text, (f, needle)


def test_importing_sympower_loads_no_scipy():
    code = "import sys; sys.path.insert(0, 'components'); import sympower; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr

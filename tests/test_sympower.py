"""The library as `pip install .` gives it (the module sympower, which is components/sympower.py), tested
in-process: importing it without torch, scikit-learn's conventions, units from the dtype, the inverse's
contract, as_module(), the soft boundary's pn_alpha = 0, and TransformError for every bad argument or
datum (tables of the families, then hypothesis through the public API)."""
import io
import json
import math
import os
import pickle
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import sympower as S
from tests.conftest import ROOT, smooth_image

CLASSES = list(S.TRANSFORMS.values())
PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def u8():
    return smooth_image(24, 32, seed=4, dtype=np.uint8)  # H x W x 3, values across 0..255


BLOCK_TORCH = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, NoTorch())
sys.path.insert(0, sys.argv[1])
import numpy as np
import sympower
u8 = (np.arange(600) % 256).astype(np.uint8).reshape(20, 30)
for cls in sympower.TRANSFORMS.values():
    tf = cls().fit(u8)
    assert np.array_equal(np.round(tf.inverse_transform(tf.transform(u8))), u8)
assert "torch" not in sys.modules
try:
    tf.as_module()
except ImportError as e:
    print("as_module:", e)
"""


def test_import_and_numpy_use_need_no_torch():
    """In a fresh interpreter where importing torch fails, the library imports and fits numpy data; only
    as_module reaches for torch."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    p = subprocess.run([sys.executable, "-E", "-c", BLOCK_TORCH, str(ROOT / "components")], env=env,
                       capture_output=True, text=True, cwd=ROOT / "tests")
    assert p.returncode == 0, p.stderr
    assert "as_module: torch is blocked" in p.stdout


def test_pyproject_installs_this_file_as_sympower():
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as f:
        cfg = tomllib.load(f)
    assert cfg["project"]["name"] == "sympower"
    assert cfg["tool"]["setuptools"] == {"package-dir": {"": "components"}, "py-modules": ["sympower"],
                                         "dynamic": {"version": {"attr": "sympower.__version__"}}}
    assert cfg["project"]["dynamic"] == ["version"] and re.fullmatch(r"\d+\.\d+\.\d+", S.__version__)
    deps = " ".join(cfg["project"]["dependencies"])
    assert "numpy" in deps and "scipy" in deps and "torch" not in deps


# ---- scikit-learn's conventions ----

OPTIONS = {S.SymPower: dict(pn_cum=0.4, gamma_boundary=3.0, scale=1.0), S.MinMax: dict(shift=-0.25, scale=4),
           S.ZScore: {}, S.BoxCox: dict(box_shift=0.25, levels=512)}


@pytest.mark.parametrize("cls", CLASSES)
def test_scikit_learn_conventions(cls, u8):
    sklearn_base = pytest.importorskip("sklearn.base")
    from sklearn.pipeline import make_pipeline

    tf = cls(**OPTIONS[cls])
    with pytest.raises(S.TransformError, match="call fit"):
        tf.transform(u8)
    with pytest.raises(AttributeError):
        getattr(tf, f"{cls.KEYS[-1]}_")
    assert tf.fit(u8) is tf
    assert tf.__sklearn_is_fitted__()
    y = tf.transform(u8)
    assert np.array_equal(cls(**OPTIONS[cls]).fit_transform(u8), y)
    assert np.array_equal(tf.inverse_transform(y), tf.inverse(y)) and np.array_equal(tf.forward(u8), y)
    for k in cls.KEYS:
        assert getattr(tf, f"{k}_") == tf.params[k]
    c = sklearn_base.clone(tf)
    assert c.get_params() == tf.get_params() and type(c) is cls and not c.__sklearn_is_fitted__()
    assert all(getattr(c, k) == v for k, v in OPTIONS[cls].items())
    assert np.array_equal(c.fit_transform(u8), y)
    assert np.array_equal(make_pipeline(cls(**OPTIONS[cls])).fit_transform(u8), y)
    if OPTIONS[cls]:
        k, v = next(iter(OPTIONS[cls].items()))
        assert cls().set_params(**{k: v}).get_params()[k] == v
        assert f"{k}={v!r}" in repr(tf)
    with pytest.raises(S.TransformError, match="no option"):
        cls().set_params(nonsense=1)


def test_one_distribution_not_per_column():
    """A table is one pool of values: its columns share the fit (the paper's whole-signal histogram)."""
    table = np.stack([np.linspace(0, 1, 200), np.linspace(0, 0.5, 200)], axis=1)
    y = S.MinMax().fit_transform(table)
    assert y[:, 0].max() == 1 and y[:, 1].max() == 0  # column 2 reaches half the range, not all of it


# ---- units ----

def test_units_follow_the_dtype(u8):
    """The same picture as uint8, uint16 (x 257) and floats in [0, 1] gives the same targets (to the
    1/256 vs 1/255 of a level that N = 256 vs the float range 1 makes), while the float picture read as
    8-bit levels (the old default) is squeezed."""
    y8 = S.SymPower().fit_transform(u8)
    y16 = S.SymPower().fit_transform(u8.astype(np.uint16) * 257)
    yf = S.SymPower().fit_transform(u8 / 255.0)
    assert np.abs(y16 - y8).max() < 5e-3 and np.abs(yf - y8).max() < 5e-3
    assert yf.min() < -0.9 and yf.max() > 0.9
    squeezed = S.SymPower(levels=256).fit_transform(u8 / 255.0)  # stated units are taken as stated
    assert squeezed.max() - squeezed.min() < 0.7 * (yf.max() - yf.min())
    assert S.SymPower().fit(u8).params == S.SymPower(levels=256).fit(u8.astype(np.float32)).params
    tu8 = torch.from_numpy(u8)
    assert torch.allclose(S.SymPower().fit_transform(tu8), torch.from_numpy(y8), atol=1e-5)
    bc = S.BoxCox().fit(np.array([-128, 0, 127], dtype=np.int8))
    assert bc.params["offset"] == pytest.approx(0.1 * 256 + 128)


@pytest.mark.parametrize("data, what", [
    (np.linspace(0, 255, 50), r"float data span \[0, 255\], outside \[0, 1\].*levels="),
    (np.linspace(-1, 1, 50, dtype=np.float32), r"outside \[0, 1\].*levels=2"),
    (np.arange(50, dtype=np.int32), "int32 data.*levels="),
    (np.arange(50, dtype=np.uint32), "uint32 data.*levels="),
])
@pytest.mark.parametrize("cls", [S.SymPower, S.BoxCox])
def test_data_of_unknown_units_are_refused(cls, data, what):
    with pytest.raises(S.TransformError, match=what):
        cls().fit(data)
    cls(levels=2 if data.min() < 0 else 256, **({"lo": -1} if cls is S.BoxCox and data.min() < 0 else {})).fit(data)


def test_min_max_and_z_score_need_no_units():
    for cls in (S.MinMax, S.ZScore):
        assert np.isfinite(cls().fit_transform(np.linspace(-300, 300, 50))).all()


# ---- the inverse's contract ----

# (dtype, data, tolerance of inverse(transform(x)) - x, in the data's units)
CASES = [("uint8", lambda g: g.integers(0, 256, 3000).astype(np.uint8), 0),
         ("uint16", lambda g: g.integers(0, 65536, 3000).astype(np.uint16), 0),
         ("float32", lambda g: g.random(3000).astype(np.float32), 1e-5),
         ("float64", lambda g: g.random(3000), 1e-9)]


@pytest.mark.parametrize("cls", CLASSES)
@pytest.mark.parametrize("dtype, make, tol", CASES, ids=[c[0] for c in CASES])
def test_inverse_is_exact_inside_the_fitted_range(cls, dtype, make, tol):
    """Integers come back as the same integers after rounding (error far under half a level); floats to
    tol of their range: the docstring's contract."""
    x = make(np.random.default_rng(7))
    tf = cls().fit(x)
    back = tf.inverse_transform(tf.transform(x))
    if tol == 0:
        assert np.array_equal(np.round(back), x) and np.abs(back - x).max() < 0.01
    else:
        assert back.dtype == x.dtype and np.abs(back - x).max() <= tol


def test_inverse_clamps_outside_the_target_range():
    x = np.random.default_rng(8).random(2000) ** 2
    sp = S.SymPower().fit(x)
    top, bottom = sp.max_ + sp.right_, sp.min_ - sp.left_
    assert sp.inverse_transform(np.array([1.0, 1.5, 40.0])) == pytest.approx([top] * 3, rel=1e-12)
    assert sp.inverse_transform(np.array([-1.0, -3.0])) == pytest.approx([bottom] * 2, abs=1e-12)
    bc = S.BoxCox().fit(x)
    assert bc.inverse_transform(np.array([1.0, 9.0])) == pytest.approx([x.max()] * 2, rel=1e-9)
    assert bc.inverse_transform(np.array([-1.0, -9.0])) == pytest.approx([x.min()] * 2, abs=1e-9)
    mm = S.MinMax().fit(x)  # affine, as the published code: a prediction of 2 is one range above max
    assert mm.inverse_transform(np.array([3.0]))[0] == pytest.approx(x.max() + (x.max() - x.min()))


# ---- as_module ----

@pytest.mark.parametrize("cls", CLASSES)
def test_as_module_carries_the_fit(cls, u8):
    tf = cls().fit(u8)
    m = tf.as_module()
    assert isinstance(m, torch.nn.Module) and set(m.state_dict()) == set(cls.KEYS)
    assert all(b.dtype == torch.float64 for b in m.buffers()) and not list(m.parameters())
    x = torch.from_numpy(u8.astype(np.float32))
    y = m(x)
    assert torch.equal(y, tf.transform(x)) and torch.equal(m.inverse(y), tf.inverse_transform(y))
    other = cls().fit(u8 // 2).as_module()  # another fit with the same bottom (below it sym-power refuses)
    assert not torch.equal(other(x), y)
    other.load_state_dict(json.loads(json.dumps({k: v.item() for k, v in m.state_dict().items()}),
                                     object_hook=lambda d: {k: torch.tensor(v, dtype=torch.float64) for k, v in d.items()}))
    assert torch.equal(other(x), y) and torch.equal(other.inverse(y), m.inverse(y))
    z = (y * 0.9).double().requires_grad_(True)  # inside the range: the gradient of the inverse is finite
    out = m.inverse(z)
    out.sum().backward()
    assert out.dtype == torch.float64 and torch.isfinite(z.grad).all() and (z.grad > 0).all()
    assert torch.equal(m.double()(x.double()), tf.transform(x.double()))
    buf = io.BytesIO()
    torch.save(m, buf)  # the whole module, found by name (sympower.TransformModule)
    buf.seek(0)
    assert torch.equal(torch.load(buf, weights_only=False)(x), y)
    assert pickle.loads(pickle.dumps(tf)).params == tf.params


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_as_module_on_a_gpu(u8):
    tf = S.SymPower().fit(u8)
    m = tf.as_module().cuda()
    x = torch.from_numpy(u8.astype(np.float32))
    assert torch.allclose(m(x.cuda()).cpu(), tf.transform(x), atol=1e-6)


def test_as_module_needs_a_fit():
    with pytest.raises(S.TransformError, match="call fit"):
        S.SymPower().as_module()


# ---- the soft boundary's tails ----

def test_soft_boundary_follows_protocol_for_any_pn_alpha():
    """protocol.md: L = pn_k x (mass of the first a bins), R = pn_k x (mass of the last a bins), a =
    int(pn_alpha x 256). For a = 0 both are 0 (the same as pn_buffer = 0); `pdf[-a:]` made R the whole
    histogram's mass. For a = 1 they are the extreme bins' mass."""
    x = np.random.default_rng(9).random(5000).astype(np.float32) ** 1.5
    hist = np.histogram(x, 256, (float(x.min()), float(x.max())))[0] / x.size
    for alpha in (0.0, 0.003):  # a = 0
        p = S.SymPower(pn_alpha=alpha).fit(x).params
        assert p["left"] == 0 and p["right"] == 0
        assert p == S.SymPower(pn_buffer=0).fit(x).params
    p = S.SymPower(pn_alpha=1 / 256).fit(x).params
    assert p["left"] == pytest.approx(hist[0], rel=1e-6) and p["right"] == pytest.approx(hist[-1], rel=1e-6)
    p = S.SymPower(pn_alpha=0.01, pn_k=2.0).fit(x).params  # levels 1 (floats): pn_k / 256 per unit mass
    assert p["right"] == pytest.approx(2.0 / 256 * hist[-2:].sum(), rel=1e-6)


# ---- every bad argument or datum: TransformError naming it ----

BAD_OPTIONS = [
    (S.SymPower, "pn_cum", [1.5, 0, 1, -0.1, "0.5", None, math.nan, True, [0.5]]),
    (S.SymPower, "pn_alpha", [-0.01, 0.6, math.inf, "x"]),
    (S.SymPower, "pn_k", [-1, math.nan, 10 ** 400]),
    (S.SymPower, "pn_beta", [1.5, math.nan, "0.05"]),
    (S.SymPower, "pn_buffer", [math.inf, 10 ** 400, "0"]),
    (S.SymPower, "gamma_boundary", [0, 0.5, -5, math.inf]),
    (S.SymPower, "gamma_trans", [0, 0.0, math.inf, "1"]),
    (S.SymPower, "scale", [0, math.nan, math.inf, "2"]),
    (S.SymPower, "shift", [math.nan, None]),
    (S.SymPower, "levels", [0, -256, math.nan, "256", math.inf]),
    (S.MinMax, "scale", [0, 0.0, math.nan]),
    (S.MinMax, "shift", [math.inf, "0"]),
    (S.BoxCox, "box_shift", [-0.1, math.nan, "0.1"]),
    (S.BoxCox, "levels", [0, -1]),
    (S.BoxCox, "lo", [math.nan, "0"]),
    (S.BoxCox, "scale", [0]),
]


def _one_line(call, *names):
    with pytest.raises(S.TransformError) as e:
        call()
    msg = str(e.value)
    assert "\n" not in msg and all(n in msg for n in names), msg
    return msg


@pytest.mark.parametrize("cls, name, values", BAD_OPTIONS, ids=[f"{c.__name__}-{n}" for c, n, _ in BAD_OPTIONS])
def test_bad_options_are_refused_naming_the_option_and_its_range(cls, name, values):
    for v in values:
        msg = _one_line(lambda: cls(**{name: v}), name)
        assert " in [" in msg or " in (" in msg, msg
        _one_line(lambda: cls().set_params(**{name: v}), name)


GOOD = {"SymPower": {"shift": -0.5, "scale": 2.0, "min": 0.0, "max": 255.0, "gamma": 0.7, "left": 1.0, "right": 2.0},
        "MinMax": {"shift": -0.5, "scale": 2.0, "min": 0.0, "max": 255.0}, "ZScore": {"mean": 100.0, "std": 50.0},
        "BoxCox": {"offset": 25.6, "shift": -0.5, "scale": 2.0, "lmbda": 0.3, "min": 1.0, "max": 20.0}}
BAD_PARAMS = [("SymPower", "max", 10 ** 400), ("SymPower", "gamma", 0), ("SymPower", "gamma", -1.0),
              ("SymPower", "left", -1.0), ("SymPower", "scale", 0), ("SymPower", "min", 300.0),
              ("SymPower", "right", math.nan), ("MinMax", "min", "0"), ("MinMax", "scale", 0.0),
              ("ZScore", "std", -1.0), ("ZScore", "mean", math.inf), ("BoxCox", "lmbda", None),
              ("BoxCox", "scale", math.nan), ("BoxCox", "max", True)]


@pytest.mark.parametrize("cls_name, key, value", BAD_PARAMS)
def test_bad_fitted_numbers_are_refused(cls_name, key, value):
    cls = getattr(S, cls_name)
    cls.from_params(GOOD[cls_name])  # the good ones pass
    _one_line(lambda: cls.from_params({**GOOD[cls_name], key: value}), cls.name, "min" if key == "min" else key)


@pytest.mark.parametrize("params", [[1, 2], "gamma", None, 3.0, ("shift", "scale")])
def test_from_params_takes_a_dict(params):
    _one_line(lambda: S.SymPower.from_params(params), "from_params", "dict")


BAD_DATA = {
    "nan": np.array([1.0, np.nan, 0.5]),
    "inf": np.array([0.1, np.inf]),
    "empty": np.zeros((0, 3), dtype=np.uint8),
    "complex": np.ones(4, dtype=complex),
    "strings": np.array(["a", "b"]),
    "objects": np.array([{}, []], dtype=object),
    "ragged": [[1, 2], [3]],
    "meta tensor": torch.zeros(4, device="meta"),
    "complex tensor": torch.zeros(4, dtype=torch.complex64),
    "nan tensor": torch.tensor([0.5, float("nan")]),
}


@pytest.mark.parametrize("what", list(BAD_DATA))
@pytest.mark.parametrize("cls", CLASSES)
def test_bad_data_are_refused_by_fit_and_transform(cls, what):
    _one_line(lambda: cls().fit(BAD_DATA[what]))
    fitted = cls().fit(np.linspace(0, 1, 100))
    _one_line(lambda: fitted.transform(BAD_DATA[what]))


def test_box_cox_refuses_data_below_its_offset_and_collapsing_fits():
    bc = S.BoxCox().fit(np.linspace(0, 1, 100))
    _one_line(lambda: bc.transform(np.array([-0.5])), "above")
    _one_line(lambda: S.BoxCox(box_shift=0).fit(np.linspace(0, 1, 100)), "box_shift")
    _one_line(lambda: S.BoxCox(levels=256).fit(np.linspace(0, 1, 1000) ** 2), "one value", "levels")


def test_a_call_that_does_not_fit_the_signature_is_a_transform_error():
    for cls in CLASSES:
        _one_line(lambda: cls(bogus=1), cls.__name__, "bogus")
        _one_line(lambda: cls(0.5), cls.__name__, "positional")


def test_a_two_level_image_fits_without_a_numpy_warning():
    x = np.array([0] * 60 + [255] * 40, np.uint8)  # the first bin holds pn_cum of the mass: log 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for data in (x, torch.from_numpy(x)):
            tf = S.SymPower().fit(data)
            assert tf.gamma_half_ == 0 and tf.gamma_ == 1 / tf.gamma_boundary  # the reference's numbers


def test_sym_power_refuses_data_below_its_fitted_range():
    tf = S.SymPower().fit(np.arange(100, 200, dtype=np.uint8))
    _one_line(lambda: tf.transform(np.array([5, 150], np.uint8)), "sym_power", "above")
    assert np.isfinite(tf.transform(np.array([150, 250], np.uint8))).all()  # above the top: finite, as before


@pytest.mark.parametrize("cls_name, key, value", [("SymPower", "gamma", 1e9), ("SymPower", "gamma", 1e-9),
                                                  ("BoxCox", "lmbda", 2.0 ** 70), ("BoxCox", "lmbda", 1e-320),
                                                  ("ZScore", "std", 1e308), ("ZScore", "mean", 2.0 ** 70),
                                                  ("MinMax", "max", 1e308)])
def test_fitted_numbers_that_overflow_or_squeeze_float32_are_refused(cls_name, key, value):
    cls = getattr(S, cls_name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _one_line(lambda: cls.from_params({**GOOD[cls_name], key: value}), cls.name, "float32")


def test_units_that_squeeze_the_data_to_one_target_are_refused():
    x = np.arange(256, dtype=np.uint8)
    _one_line(lambda: S.SymPower(levels=2 ** 62).fit(x), "sym_power", "one target")
    _one_line(lambda: S.BoxCox(levels=2 ** 62).fit(x), "box_cox")


def test_permutation_of_the_wrong_length_is_refused():
    from components import transform as T

    data = torch.rand(3, 4, 5)
    for perm in (torch.arange(19), torch.arange(20).float(), torch.zeros(20, dtype=torch.int64), [0, 1]):
        _one_line(lambda: T.prepare_data(data, {}, None, perm=perm), "permutation")
        _one_line(lambda: T.restore_data(data, {}, None, perm=perm), "permutation")
    perm = torch.randperm(20)
    assert torch.equal(T.restore_data(T.prepare_data(data, {}, None, perm=perm)[0], {}, None, perm), data)


# ---- the same through hypothesis: any JSON-like value in any option or fitted number ----

values = (st.none() | st.booleans() | st.integers() | st.integers(min_value=2 ** 1030) | st.floats()
          | st.text(max_size=5) | st.lists(st.floats(), max_size=2) | st.sampled_from([0, 0.0, -0.0, 1e-300, 1e300]))


def _sound(call):
    """`call` gives finite values or raises a one-line TransformError; nothing else."""
    try:
        out = call()
    except S.TransformError as e:
        assert "\n" not in str(e)
        return
    assert np.isfinite(out).all()


@PROPERTY
@given(cls=st.sampled_from([S.SymPower, S.MinMax, S.BoxCox]), data=st.data())
def test_any_option_value_fits_soundly_or_is_refused(cls, data):
    names = [k for k in cls.OPTIONS if k in S.inspect.signature(cls).parameters]
    opts = data.draw(st.dictionaries(st.sampled_from(names), values, max_size=3))
    x = smooth_image(8, 8, seed=1, dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning (overflow, 0 / 0) would be garbage passed on
        _sound(lambda: cls(**opts).fit_transform(x))


@PROPERTY
@given(cls_name=st.sampled_from(list(GOOD)), data=st.data())
def test_any_fitted_number_restores_soundly_or_is_refused(cls_name, data):
    cls = getattr(S, cls_name)
    params = {**GOOD[cls_name], **data.draw(st.dictionaries(st.sampled_from(sorted(GOOD[cls_name])), values,
                                                             max_size=2))}
    x = np.linspace(0, 255, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # extreme but finite fits may overflow to inf: checked below
        try:
            tf = cls.from_params(params)
        except S.TransformError as e:
            assert "\n" not in str(e)
            return
        y = tf.inverse_transform(np.linspace(-1, 1, 9))
    assert tf.params == {k: float(v) for k, v in params.items()}
    assert y.shape == (9,) and not np.isnan(y).any()
    _sound(lambda: tf.transform(x[x + params.get("offset", 0) > 0]))


@PROPERTY
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=30),
       st.sampled_from(CLASSES))
def test_any_float_data_fit_soundly_or_are_refused(xs, cls):
    x = np.array(xs, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _sound(lambda: cls().fit_transform(x))


# main.py's option -> (the library's class, its argument); the probes straddle every bound of opt.RULES
AS_MAIN = {"trans_shift": (S.MinMax, "shift"), "trans_scale": (S.SymPower, "scale"), "box_shift": (S.BoxCox, "box_shift"),
           **{k: (S.SymPower, k) for k in ("pn_cum", "pn_buffer", "pn_alpha", "pn_k", "pn_beta", "gamma_boundary",
                                           "gamma_trans")}}
PROBES = [-1e7, -4097, -101, -20, -1, -1e-7, 0, 1e-7, 1 / 512, 1 / 256, 0.005, 0.01, 0.04, 0.05, 0.5, 0.51, 0.99, 0.995,
          1, 1.01, 10, 10.5, 20, 20.5, 100, 100.5, 4096, 4097, 1e6, 1.1e6]


@pytest.mark.parametrize("option", list(AS_MAIN))
def test_the_library_checks_its_options_as_main_py_does(option):
    """The same values accepted and refused as opt.RULES does, but pn_alpha under 1/256 (0 bins: no soft
    boundary, which the library allows and main.py's Table 1 never needs)."""
    from opt import check_values
    from util.errors import OptionError

    cls, name = AS_MAIN[option]
    for v in PROBES:
        try:
            check_values({option: v})
            main_ok = True
        except OptionError:
            main_ok = False
        try:
            cls(**{name: v})
            lib_ok = True
        except S.TransformError:
            lib_ok = False
        if option == "pn_alpha" and 0 <= v < 1 / 256:
            assert lib_ok and not main_ok
        else:
            assert lib_ok == main_ok, (option, v, main_ok, lib_ok)


@pytest.mark.parametrize("make", [lambda: __import__("skimage.data").data.camera(),
                                  lambda: smooth_image(48, 40, dtype=np.uint16, seed=3),
                                  lambda: smooth_image(32, 32, seed=1).astype(np.int8),
                                  lambda: np.random.default_rng(0).random(3000)])  # floats: all distinct
def test_box_cox_from_the_values_histogram_gives_scipys_lambda(make):
    """BoxCox fits lambda from the distinct values and their counts; scipy.stats.boxcox over every value
    (today's reference) gives the same lambda to its optimizer's tolerance, and the same extremes."""
    from scipy import special, stats

    data = make()
    bc = S.BoxCox().fit(data)
    v = data.astype(np.float64).ravel() + bc.offset_
    y, lam = stats.boxcox(v)
    assert abs(bc.lmbda_ - lam) < 1e-6
    assert [bc.min_, bc.max_] == special.boxcox([v.min(), v.max()], bc.lmbda_).tolist()
    assert [bc.min_, bc.max_] == pytest.approx([y.min(), y.max()], rel=1e-6)

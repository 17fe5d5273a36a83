"""components/sympower.py as a library: copied alone, keyword defaults, numpy or torch in any dtype,
params through JSON, its own error type. The reference's numbers are tests/test_transform.py's; the
installed package's API (scikit-learn's names, units, as_module, argument checks) tests/test_sympower.py's."""
import ast
import inspect
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from components import transform as T
from opt import defaults, row_options, transform_defaults
from tests.conftest import ROOT, one_line_error, run_in_process, smooth_image

LIBRARY_IMPORTS = {"functools", "inspect", "math", "numbers", "sys", "numpy", "scipy"}


def readme_blocks(heading):
    """The fenced code blocks under a README heading (up to the next heading), as written."""
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"^#+ {re.escape(heading)}\s*$(.*?)(?=^#)", text, re.M | re.S)
    assert m, f"README.md has no heading '{heading}'"
    blocks = re.findall(r"^```\w*\n(.*?)^```", m.group(1), re.M | re.S)
    assert blocks, f"README.md has no code block under '{heading}'"
    return blocks


IMAGES = {"8-bit": None,  # the README's own line
          "16-bit": "(np.random.default_rng(0).integers(0, 256, (64, 64, 3)) * 257).astype(np.uint16)",
          "float": "np.random.default_rng(0).random((64, 64, 3))"}


NO_TORCH = """import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, NoTorch())
"""  # an interpreter without torch (scipy looks for it in sys.modules, so no None entry there)


def _run_alone(tmp_path, snippet, no_torch):
    """snippet.py in a fresh interpreter whose only project file is a copy of components/sympower.py named
    sympower.py (-E drops PYTHONPATH, the folder is outside the repo); no_torch: `import torch` fails there,
    as in an environment without it."""
    tmp_path.mkdir()
    shutil.copy(ROOT / "components" / "sympower.py", tmp_path / "sympower.py")
    (tmp_path / "snippet.py").write_text(snippet)
    code = (NO_TORCH if no_torch else "") + "exec(open('snippet.py').read())"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    p = subprocess.run([sys.executable, "-E", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert sorted(os.listdir(tmp_path)) in (["snippet.py", "sympower.py"],
                                           ["__pycache__", "snippet.py", "sympower.py"])


@pytest.mark.parametrize("kind", list(IMAGES))
def test_readme_snippet_runs_with_sympower_py_alone(tmp_path, kind):
    """The README's snippets, as written (the image line swapped for a 16-bit or a float image): the first
    without torch (the install needs none), then the first and the torch one together (the copy-one-file
    way; `pip install .` installs the same file as the same module; no util/, no opt.py)."""
    blocks = readme_blocks("Use sym-power in your own code")
    assert len(blocks) == 2 and "torch" not in blocks[0] and "as_module" in blocks[1]
    assert re.search(r"^image = .*uint8", blocks[0], re.M)
    if IMAGES[kind]:
        blocks[0] = re.sub(r"^image = [^#\n]*", lambda m: f"image = {IMAGES[kind]}  ", blocks[0], count=1,
                           flags=re.M)
    _run_alone(tmp_path / "numpy", blocks[0], no_torch=True)
    _run_alone(tmp_path / "torch", blocks[0] + blocks[1], no_torch=False)


def test_library_imports_only_numpy_scipy_and_the_standard_library_at_module_level():
    """torch only inside the functions that a tensor reaches (tests/test_sympower.py imports it with
    torch blocked); nothing of the project anywhere."""
    tree = ast.parse((ROOT / "components" / "sympower.py").read_text())
    names, lazy = set(), set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {a.name.split(".")[0] for a in node.names} if isinstance(node, ast.Import) else {node.module.split(".")[0]}
    assert names <= LIBRARY_IMPORTS, names - LIBRARY_IMPORTS
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            lazy |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import ties the file to its package"
            lazy.add(node.module.split(".")[0])
    assert lazy <= LIBRARY_IMPORTS | {"torch"}, lazy - LIBRARY_IMPORTS


def test_keyword_defaults_are_the_papers_and_opt_reads_them():
    sig = {k: p.default for k, p in inspect.signature(T.SymPower).parameters.items()}
    assert sig == dict(pn_cum=0.5, pn_buffer=-1, pn_alpha=0.01, pn_k=256, pn_beta=0.05, gamma_boundary=5,
                       gamma_trans=-1, shift=-0.5, scale=2, levels=None)  # protocol.md; levels: the dtype's, "Options of the reference"
    assert all(p.kind is p.KEYWORD_ONLY for p in inspect.signature(T.SymPower).parameters.values())
    opts = defaults()
    for k, v in T.OPTION_DEFAULTS.items():
        assert opts[k] == v and type(opts[k]) is type(v), k  # args.json keeps writing -1.0, not -1
    # opt.py reads them from transform.py's source (run.py must not load torch): the same values
    assert transform_defaults().items() <= T.OPTION_DEFAULTS.items()
    assert set(T.OPTION_DEFAULTS) - set(transform_defaults()) == {"inverse", "rpp"}  # flags: False
    data = torch.from_numpy(smooth_image(24, 24).astype(np.float32)).permute(2, 0, 1)
    assert T.SymPower(levels=256).fit(data).params == T.build(row_options("sym_power")).fit(data).params
    assert T.MinMax().fit(data).params == T.build(row_options("scale_1.0")).fit(data).params
    assert T.BoxCox(levels=256).fit(data).params == T.build(row_options("box_cox")).fit(data).params
    u8 = data.to(torch.uint8)  # 8-bit data: the dtype says levels=256, as the trainer states it
    assert T.SymPower().fit(u8).params == T.build(row_options("sym_power")).fit(data).params


DTYPES = ["uint8", "uint16", "int32", "int64", "float16", "float32", "float64"]


@pytest.mark.parametrize("kind", ["numpy", "torch"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_forward_inverse_keep_the_callers_kind(kind, dtype):
    """Any shape and dtype: numpy in, numpy out; tensor in, tensor out; float64 stays float64, every
    other dtype gives float32; the values are those of the float32 tensor path (the training path)."""
    img = smooth_image(20, 30, dtype=np.uint8).astype(dtype)  # H x W x C: a layout the project never uses
    data = img if kind == "numpy" else torch.from_numpy(img) if dtype != "uint16" else torch.from_numpy(
        img.astype(np.int32)).to(torch.uint16)
    want = torch.float64 if dtype == "float64" else torch.float32
    ref_tf = T.SymPower(levels=256).fit(torch.from_numpy(img.astype(np.float32)))
    tf = T.SymPower(levels=256).fit(data)  # 8-bit values in every dtype: say so
    assert tf.params == pytest.approx(ref_tf.params, rel=1e-6)
    y = tf.forward(data)
    back = tf.inverse(y)
    for out in (y, back):
        assert isinstance(out, np.ndarray if kind == "numpy" else torch.Tensor)
        assert tuple(out.shape) == img.shape
        assert str(out.dtype).split(".")[-1] == str(want).split(".")[-1]
    y = torch.as_tensor(y)
    assert torch.allclose(y.double(), ref_tf.forward(torch.from_numpy(img.astype(np.float32))).double(), atol=1e-6)
    assert -1 <= y.min() and y.max() <= 1
    assert np.abs(np.asarray(back, dtype=np.float64) - img.astype(np.float64)).max() < 1e-3


@pytest.mark.parametrize("shape", [(1000,), (2, 3, 16, 16), (1,)])
def test_any_shape(shape):
    x = np.random.default_rng(0).random(shape)
    tf = T.SymPower(levels=1.0).fit(x)
    y = tf.forward(x)
    assert y.shape == x.shape and y.dtype == np.float64 and np.isfinite(y).all()
    assert np.allclose(tf.inverse(y), x, atol=1e-9)


@pytest.mark.parametrize("name", list(T.TRANSFORMS))
def test_params_round_trip_through_json(name):
    data = torch.from_numpy(smooth_image(24, 24, seed=1).astype(np.float32)).permute(2, 0, 1)
    tf = T.build({**T.OPTION_DEFAULTS, "transform": name}).fit(data)
    again = T.TRANSFORMS[name].from_params(json.loads(json.dumps(tf.params)))
    y = tf.forward(data)
    assert torch.equal(again.forward(data), y)
    assert torch.equal(again.inverse(y), tf.inverse(y))
    assert T.restore(json.loads(json.dumps({"name": tf.name, "params": tf.params}))).params == tf.params


def test_errors_are_transform_errors_a_value_error():
    assert issubclass(T.TransformError, ValueError)
    bad = {
        "nan": lambda: T.SymPower().fit(np.array([1.0, np.nan])),
        "empty": lambda: T.SymPower().fit(np.zeros((0, 3))),
        "complex": lambda: T.MinMax().fit(np.ones(4, dtype=complex)),
        "unfitted": lambda: T.SymPower().forward(np.ones(4)),
        "missing key": lambda: T.SymPower.from_params({"gamma": 1.0}),
        "not a number": lambda: T.MinMax.from_params({"shift": 0, "scale": 1, "min": "0", "max": 1}),
        "unknown name": lambda: T.restore({"name": "gamma", "params": {}}),
        "box_cox range": lambda: T.BoxCox().fit(np.array([-100.0, 5.0])),
    }
    for what, call in bad.items():
        with pytest.raises(T.TransformError) as e:
            call()
        assert "\n" not in str(e.value), what


def test_main_prints_the_librarys_error_as_one_line(tmp_path, tiny_png):
    """A run folder whose args.json names no transform (edited by hand): main.py --resume reports
    TransformError as a user mistake, one line and exit 2, like its own UserError."""
    run = tmp_path / "run"
    run.mkdir()
    opts = {**defaults(), "input_path": str(tiny_png), "transform": "nope", "num_epochs": 2, "device": "cpu",
            "quiet": True}
    (run / "args.json").write_text(json.dumps(opts))
    one_line_error(run_in_process("main.py", "--resume", run), "nope")

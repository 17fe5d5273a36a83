"""Shared fixtures: where ../shared lives, small images made on the fly, and two ways to run an entry
point: `run_py` in a new interpreter (where the process boundary is what a test checks: signals, exit
of a child, the demo), `run_in_process` by calling its main(argv) here (everything else: no
interpreter start-up, no torch import per call)."""
import contextlib
import importlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import warnings
from pathlib import Path

# One thread and OpenMP's passive wait in the test processes (xdist's workers import this too) and in every
# process they start, set before numpy and torch load: beside other work, threads spinning while they
# waited made the suite 6 to 8 times slower (docs/performance.md, "The test suite").
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import imageio.v2 as imageio  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors"  # values computed with the published code, committed
SHARED_DATA = Path(os.environ.get("SHARED_DIR", ROOT.parent / "shared")) / "data"
DOWNLOAD = {"div2k": "div2k_test", "libri_test_clean_121726": "libri", "text": "text", "Kodak": "kodak"}


def dataset(rel):
    """A dataset file or folder (e.g. "div2k/test_data/00.png"): data/ when downloaded, else ../shared/data,
    else skip naming the command that downloads it."""
    for root in (ROOT / "data", SHARED_DATA):
        if (root / rel).exists():
            return root / rel
    name = DOWNLOAD.get(Path(rel).parts[0], "--help")
    pytest.skip(f"{rel} is absent: python data/download.py {name}")


def load_json(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="session")
def div2k_64px(tmp_path_factory):
    """DIV2K test images 00 and 01 at 64x64, made as the reference's 64 px files were (scikit-image
    resize with anti-aliasing, range preserved, rounded): name -> path."""
    from skimage.transform import resize

    folder = tmp_path_factory.mktemp("div2k_64px")
    out = {}
    for name in ("00", "01"):
        img = imageio.imread(dataset(f"div2k/test_data/{name}.png"))
        small = resize(img, (64, 64), anti_aliasing=True, preserve_range=True).round().astype(np.uint8)
        imageio.imwrite(folder / f"{name}.png", small)
        out[name] = folder / f"{name}.png"
    return out


def run_py(*args, cwd=ROOT, env=None, timeout=600, check=False):
    """Run a project entry point as a user would; returns CompletedProcess with text output."""
    e = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"), PYTHONUNBUFFERED="1")
    e.update(env or {})
    p = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=e, capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


STOPPED = pytest.StashKey[str]()


def pytest_sessionstart(session):
    """One SIGTERM (a CI runner's stop, `timeout`) ends the session, in a worker of pytest-xdist too: the
    test running is stopped (an entry point called in-process passes the signal on when it returns, after
    its checkpoint: util/interrupt.py) and no other starts. (SIGKILL ends it at once.)"""
    def stop(signum, frame):
        xdist = session.config.pluginmanager.getplugin("dsession")  # pytest-xdist's controller: its workers stop too
        for gateway in getattr(getattr(xdist, "nodemanager", None), "group", ()):
            with contextlib.suppress(AttributeError, OSError):  # (execnet's process of a local worker)
                gateway._io.popen.send_signal(signum)
        session.shouldstop = session.config.stash[STOPPED] = f"{signal.Signals(signum).name}: the test session stops"
        pytest.exit(session.shouldstop, returncode=128 + signum)

    signal.signal(signal.SIGTERM, stop)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """A session stopped by SIGTERM ends here, its report written: pytest's own clean-up after this (five
    full garbage collections of a heap that holds torch) took seconds of a stop's time on a busy machine."""
    if config.stash.get(STOPPED, None):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(128 + signal.SIGTERM)


SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP)


def _entry_point(args):
    """("main.py", *rest) or ("summarize.py", *rest) or ("-m", "pkg.module", *rest) -> (its main function, rest)."""
    if args[0] == "-m":
        module, rest = args[1], args[2:]
    else:
        module, rest = str(args[0]).removesuffix(".py").replace("/", "."), args[1:]
    mod = importlib.import_module(module)
    return getattr(mod, "main", None) or getattr(mod, "_main"), rest


@contextlib.contextmanager
def _process_state(cwd, env):
    """Run a block as if in a fresh process, then put back what an entry point may change: the working
    folder, the environment, torch's threads, deterministic mode and TF32 flags, signal handlers, the
    generators."""
    import numpy as np
    import torch

    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    threads, det, warn_only = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(), \
        torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32
    matmul_tf32 = torch.backends.cuda.matmul.allow_tf32
    handlers = {s: signal.getsignal(s) for s in SIGNALS}
    rng = torch.get_rng_state(), np.random.get_state(), random.getstate()
    os.environ.update({"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), **(env or {})})
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det, warn_only=warn_only)
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic, torch.backends.cudnn.allow_tf32 = cudnn
        torch.backends.cuda.matmul.allow_tf32 = matmul_tf32
        for s, h in handlers.items():
            signal.signal(s, h)
        torch.set_rng_state(rng[0])
        np.random.set_state(rng[1])
        random.setstate(rng[2])


def sitecustomize_env(folder, source):
    """Environment for run_py / run_in_process whose child Python processes first run `source` (a
    sitecustomize.py in `folder`, with the repository importable): a fault injected into a real process
    at a chosen point (a kill after a checkpoint ...) instead of a signal raced against the clock."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(source)
    return {"PYTHONPATH": os.pathsep.join([str(folder), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}


# Child main.py processes whose --tag is $KILL_TAG (or any, if $KILL_TAG is unset) SIGKILL themselves
# right after their first checkpoint of sample $KILL_IN (or any sample): a lost node, no handler, no finally.
KILL_AFTER_SNAPSHOT = """
import os, signal, sys
def _wanted():
    tag = os.environ.get("KILL_TAG")
    given = sys.argv[sys.argv.index("--tag") + 1] if "--tag" in sys.argv[:-1] else None
    return sys.argv[0].endswith("main.py") and "--resume" not in sys.argv and tag in (None, given)
if _wanted():
    import trainer.checkpoint as checkpoint
    _save = checkpoint.save
    def save(folder, epoch, sample, *args, **kwargs):
        _save(folder, epoch, sample, *args, **kwargs)
        if os.environ.get("KILL_IN") in (None, sample.signal.name):
            os.kill(os.getpid(), signal.SIGKILL)
    checkpoint.save = save
"""


def run_in_process(*args, cwd=ROOT, env=None, check=False):
    """Call an entry point's main(argv) in this process, given run_py's arguments ("main.py", ... or
    "summarize.py", ...): a CompletedProcess with the exit code and the captured standard output
    and error (warnings included, each shown as a fresh process shows it). SystemExit (argparse) gives
    its code, as the interpreter would; any other exception is a bug and propagates."""
    fn, rest = _entry_point(args)
    argv = [str(a) for a in rest]
    out, err = io.StringIO(), io.StringIO()

    def show(message, category, filename, lineno, file=None, line=None):
        err.write(warnings.formatwarning(message, category, filename, lineno, line))

    with _process_state(cwd, env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        try:
            rc = fn(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) or e.code is None else 1
            if e.code is not None and not isinstance(e.code, int):
                print(e.code, file=err)
    p = subprocess.CompletedProcess([*args], rc or 0, out.getvalue(), err.getvalue())
    if check and p.returncode != 0:
        raise AssertionError(f"exit {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def one_line_error(p, *named, code=2):
    """A mistake as the project reports it, checked by meaning, not wording: exit `code` (2: a user
    mistake), no traceback, one line that starts with "error:", naming each of `named` (an option, a
    file, a value). Returns that line."""
    assert p.returncode == code, (p.returncode, p.stderr)
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout, p.stderr
    errors = [line for line in p.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, p.stderr
    for name in named:
        assert str(name) in errors[0], (name, errors[0])
    return errors[0]


def smooth_image(h, w, c=3, dtype=np.uint8, seed=0):
    """A smooth test picture with texture, in the full range of its type."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    chans = [np.sin(3 * x + k) * np.cos(2 * y - k) + 0.3 * rng.standard_normal((h, w)) * 0.1 for k in range(c)]
    img = np.stack(chans, -1)
    img = (img - img.min()) / (img.max() - img.min())
    top = np.iinfo(dtype).max
    out = (img * top).round().astype(dtype)
    return out[:, :, 0] if c == 1 else out


def write_png(path, arr):
    """PNG of any bit depth (Pillow cannot write 16-bit colour)."""
    from util.io import _write_png16

    if arr.dtype == np.uint16:
        with open(path, "wb") as f:
            _write_png16(f, arr)
    else:
        imageio.imwrite(path, arr)
    return path


def image_folder(folder, names, size=16):
    """A folder of smooth size x size PNGs, one per name (seeded by position): the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        write_png(folder / f"{name}.png", smooth_image(size, size, seed=i))
    return folder


@pytest.fixture
def tiny_png(tmp_path):
    p = tmp_path / "00.png"
    imageio.imwrite(p, smooth_image(16, 16))
    return p


@pytest.fixture
def fast_args(tmp_path):
    """Options for a quick CPU fit that still exercises logging and checkpoints."""
    return ["--save_dir", tmp_path / "log", "--num_epochs", "20", "--log_epoch", "10", "--hidden_features", "32",
            "--hidden_layers", "1", "--quiet", "--device", "cpu"]


def run_folder(save_dir):
    runs = [p for p in Path(save_dir).rglob("args.json")]
    assert len(runs) == 1, runs
    return runs[0].parent

"""One SIGTERM ends a pytest session (a CI runner's stop), also while an entry point runs in-process with
its own stop handler installed (tests/conftest.py's pytest_sessionstart, util/interrupt.py's pass-on)."""
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT

SESSION = '''
import imageio.v2 as imageio
import numpy as np

from tests.conftest import run_in_process


def test_slow_fit_in_process(tmp_path):
    imageio.imwrite(tmp_path / "a.png", (np.random.default_rng(0).random((8, 8, 3)) * 255).astype(np.uint8))
    run_in_process("main.py", "--input_path", tmp_path / "a.png", "--num_epochs", "100000000", "--log_epoch", "1",
                   "--hidden_features", "8", "--hidden_layers", "1", "--device", "cpu", "--quiet",
                   "--save_dir", "{log}")


def test_after():
    open("{after}", "w").close()
'''
DEADLINE_S = 300  # a bound for a loaded machine, not a speed: the stop itself comes at the next epoch's end


def _wait(condition, what):
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


@pytest.mark.parametrize("workers", [[], ["-p", "xdist", "-n", "1"]], ids=["plain", "xdist"])
def test_one_sigterm_ends_the_session_during_an_in_process_fit(tmp_path, workers):
    (tmp_path / "test_slow.py").write_text(SESSION.format(log=tmp_path / "log", after=tmp_path / "after"))
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", *workers,
                             "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path / "test_slow.py")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        def training():
            logs = list((tmp_path / "log").rglob("log.txt"))
            return logs and "epoch 2/" in logs[0].read_text()

        _wait(lambda: training() or proc.poll() is not None, "the in-process fit never logged an epoch")
        assert proc.poll() is None, proc.communicate()[0]
        os.killpg(proc.pid, signal.SIGTERM) if workers else proc.send_signal(signal.SIGTERM)
        _wait(lambda: proc.poll() is not None, "pytest went on after SIGTERM")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    out = proc.communicate()[0]
    assert proc.returncode != 0 and "SIGTERM" in out, out
    assert not (tmp_path / "after").exists(), out  # no test started after the signal

"""Runs that survive a cluster's time limits: a stop signal snapshots and exits 130 (resumable),
time-based snapshots bound what a SIGKILL loses, and submitit jobs are requeued as resumes.

Real processes and real signals (the process boundary is what these test), but no race with the
clock: where a signal must land mid-run, main.py sends it from inside (a sitecustomize hook, after
its first snapshot) or waits for it, and polling loops have bounds no loaded machine reaches."""
import json
import os
import signal
import subprocess
import sys
import time

import imageio.v2 as imageio
import pytest

from tests.conftest import ROOT, one_line_error, run_folder, run_in_process, run_py, sitecustomize_env, smooth_image
from sweep.launch import signal_delay_s
from util.readers import read_progress

TINY = ["--hidden_features", "32", "--hidden_layers", "1", "--quiet", "--no_images", "--device", "cpu",
        "--eager"]  # no kernel compilation: most of a short attempt trains


def _image(tmp_path):
    path = tmp_path / "00.png"
    imageio.imwrite(path, smooth_image(16, 16, seed=2))
    return path


def _latest_epoch(save_dir):
    pointers = list(save_dir.rglob("latest.json"))
    return json.loads(pointers[0].read_text())["epoch"] if pointers else 0


def _start(args):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "main.py", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


# Loaded by every Python process of a test through PYTHONPATH; acts in main.py only, and only in a
# run's first attempt (not in its --resume): right after the first checkpoint, the signal SIGNAL_AT_SNAPSHOT
# names arrives, either sent by main.py to itself ("self") or, as a scheduler at a job's time limit
# would, to the job that runs main.py ("parent"), which passes it back to main.py.
SIGNAL_HOOK = """
import os, signal, sys, time
if sys.argv[0].endswith("main.py") and "--resume" not in sys.argv and os.environ.get("SIGNAL_AT_SNAPSHOT"):
    import trainer.checkpoint as checkpoint
    _save = checkpoint.save
    sig = getattr(signal, os.environ["SIGNAL_AT_SNAPSHOT"])
    def save(*args, **kwargs):
        _save(*args, **kwargs)
        checkpoint.save = _save  # once
        # wait here until main.py's own handler has run (so the run cannot end first): a relay set up
        # before the signal is sent, so that it cannot be missed
        got, handler = [], signal.getsignal(sig)
        def relay(signum, frame):
            got.append(signum)
            handler(signum, frame)
        signal.signal(sig, relay)
        os.kill(os.getpid() if os.environ["SIGNAL_TO"] == "self" else os.getppid(), sig)
        while not got:
            time.sleep(0.01)
        signal.signal(sig, handler)
    checkpoint.save = save
"""


def _signal_env(tmp_path, sig, to):
    return {**sitecustomize_env(tmp_path / "hook", SIGNAL_HOOK), "SIGNAL_AT_SNAPSHOT": sig, "SIGNAL_TO": to}


def test_sigterm_checkpoints_and_resume_matches_the_uninterrupted_run(tmp_path):
    """(SIGUSR2, submitit's signal, takes the same path: the local requeue test below sends it.)"""
    image = _image(tmp_path)
    base = ["--input_path", image, "--transform", "sym_power", "--num_epochs", 2000, "--log_epoch", 500, *TINY]
    run_in_process("main.py", *base, "--save_dir", tmp_path / "straight", check=True)
    straight = json.loads((run_folder(tmp_path / "straight") / "results.json").read_text())["samples"]["00"]

    # SIGTERM half way (right after the epoch-1000 snapshot), in a real process
    p = run_py("main.py", *base, "--snap_epoch", 1000, "--save_dir", tmp_path / "cut",
               env=_signal_env(tmp_path, "SIGTERM", "self"))
    assert p.returncode == 130, p.stderr
    assert "--resume" in p.stderr and "Traceback" not in p.stderr  # says how to continue
    run_dir = run_folder(tmp_path / "cut")
    assert 1000 <= _latest_epoch(tmp_path / "cut") < 2000  # the epoch it stopped at: it did not run on
    assert not json.loads((run_dir / "results.json").read_text())["complete"]
    run_in_process("main.py", "--resume", run_dir, check=True)
    resumed = json.loads((run_dir / "results.json").read_text())
    assert resumed["complete"]
    assert abs(resumed["samples"]["00"]["2000"]["psnr"] - straight["2000"]["psnr"]) < 0.05


def test_a_stopped_runs_progress_says_the_epoch_its_checkpoint_holds(tmp_path):
    # run.py --status reads progress.json: after a stop between log epochs it must not show the last
    # 20-second line (epoch 0 here: no such line, no log epoch yet)
    p = run_py("main.py", "--input_path", _image(tmp_path), "--num_epochs", 2000, "--log_epoch", 2000,
               "--snap_epoch", 300, *TINY, "--save_dir", tmp_path, env=_signal_env(tmp_path, "SIGTERM", "self"))
    assert p.returncode == 130, p.stderr
    assert read_progress(run_folder(tmp_path))["epoch"] == _latest_epoch(tmp_path) >= 300


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2])
def test_a_stop_signal_asks_for_a_stop_at_the_epoch_end(sig, capfd):
    """SIGHUP (a closed terminal) as SIGTERM: recorded, said once, the process alive until check()."""
    from util.interrupt import DeferredInterrupt

    session_stop = signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the signal is this test's, not the session's stop
    try:
        before = signal.getsignal(sig)
        with DeferredInterrupt() as stop:
            os.kill(os.getpid(), sig)
            os.kill(os.getpid(), sig)  # a second one does not escalate
            assert stop.requested
            with pytest.raises(KeyboardInterrupt):
                stop.check()
        assert signal.getsignal(sig) is before
    finally:
        signal.signal(signal.SIGTERM, session_stop)
    assert capfd.readouterr().err.count(f"{signal.Signals(sig).name}: stopping after this epoch") == 1


def test_snap_minutes_leaves_a_recent_checkpoint_after_sigkill(tmp_path):
    """100000 epochs never reach a --snap_epoch (5000 by default is not given a chance: the run is
    killed first), so a checkpoint past epoch 1 can only be a time-based one."""
    proc = _start(["--input_path", _image(tmp_path), "--num_epochs", 100000, "--log_epoch", 100000,
                   "--snap_epoch", 100000, "--snap_minutes", 0.01, "--save_dir", tmp_path / "log", *TINY])
    deadline = time.monotonic() + 600  # a bound, not a speed: the first time-based snapshot comes in 0.6 s
    while time.monotonic() < deadline and _latest_epoch(tmp_path / "log") <= 1 and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _latest_epoch(tmp_path / "log") > 1  # and it survives the kill (written atomically)


def test_local_job_signalled_at_its_time_limit_is_requeued_and_completes(tmp_path):
    """A submitit job gets USR2 where the scheduler would send it at the time limit (here: right after
    main.py's first checkpoint, so the test does not depend on how fast start-up is; submitit's own timer
    sends the same signal); it checkpoints and is requeued as a resume in its own folder."""
    p = run_in_process("run.py", "000", "--launcher", "local", "--time", "60", "--save_dir", tmp_path / "log", "--",
                       "--input_path", _image(tmp_path), "--num_epochs", 3000, "--log_epoch", 1000, "--snap_epoch",
                       1000, "--save_dir", tmp_path / "log", *TINY, env=_signal_env(tmp_path, "SIGUSR2", "parent"),
                       check=True)
    assert "requeued" in p.stdout
    runs = [d for d in (tmp_path / "log" / "000_demo").iterdir() if (d / "args.json").is_file()]
    assert len(runs) == 1  # no second folder
    res = json.loads((runs[0] / "results.json").read_text())
    assert res["complete"] and list(res["samples"]["00"]) == ["1000", "2000", "3000"]
    assert "resuming after" in (runs[0] / "log.txt").read_text()  # the second attempt continued the first
    status = run_in_process("run.py", "--status", tmp_path / "log" / "000_demo", check=True).stdout
    assert "done" in status and "requeued" in status


def test_the_signal_comes_early_enough_for_a_checkpoint():
    assert signal_delay_s(120) == 90 and signal_delay_s(10) == 90  # submitit's SLURM default on long jobs
    assert signal_delay_s(0.25) == 5 and signal_delay_s(2) == 24  # a fifth of a short limit, at least 5 s


def test_slurm_launcher_without_slurm_is_one_line(tmp_path):
    p = run_in_process("run.py", "000", "--launcher", "slurm", "--partition", "gpu", "--save_dir", tmp_path, "--",
                       "--save_dir", tmp_path)
    line = one_line_error(p, "--launcher local")  # what to use instead
    assert "slurm" in line.lower()

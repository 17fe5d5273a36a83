"""Runs that survive a cluster's time limits: a stop signal snapshots and exits 130 (resumable),
time-based snapshots bound what a SIGKILL loses, and submitit jobs are requeued as resumes."""
import json
import os
import signal
import subprocess
import sys
import time

import imageio.v2 as imageio

from tests.conftest import ROOT, run_folder, run_py, smooth_image

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


def test_sigterm_checkpoints_and_resume_matches_the_uninterrupted_run(tmp_path):
    """(SIGUSR2, submitit's signal, takes the same path: the local requeue test below sends it.)"""
    image = _image(tmp_path)
    base = ["--input_path", image, "--transform", "sym_power", "--num_epochs", 2000, "--log_epoch", 500, *TINY]
    run_py("main.py", *base, "--save_dir", tmp_path / "straight", check=True)
    straight = json.loads((run_folder(tmp_path / "straight") / "results.json").read_text())["samples"]["00"]

    proc = _start([*base, "--save_dir", tmp_path / "cut"])
    for line in proc.stderr:  # half way: after the epoch-1000 line
        if "epoch 1000/2000" in line:
            break
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read()
    assert proc.wait(timeout=15) == 130 and time.time() - t0 < 15
    assert "continue with: python main.py --resume" in err and "Traceback" not in err
    run_dir = run_folder(tmp_path / "cut")
    assert 1000 <= _latest_epoch(tmp_path / "cut") < 2000  # the epoch it stopped at, not a periodic snapshot
    run_py("main.py", "--resume", run_dir, check=True)
    resumed = json.loads((run_dir / "results.json").read_text())
    assert resumed["complete"]
    assert abs(resumed["samples"]["00"]["2000"]["psnr"] - straight["2000"]["psnr"]) < 0.05


def test_snap_minutes_leaves_a_recent_checkpoint_after_sigkill(tmp_path):
    proc = _start(["--input_path", _image(tmp_path), "--num_epochs", 100000, "--log_epoch", 100000,
                   "--snap_minutes", 0.01, "--save_dir", tmp_path / "log", *TINY])
    deadline = time.time() + 60
    while time.time() < deadline and _latest_epoch(tmp_path / "log") <= 1:
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _latest_epoch(tmp_path / "log") > 1  # snap_epoch (5000 by default) was never reached


def test_local_job_past_its_time_limit_is_requeued_and_completes(tmp_path):
    """--time 0.25: each attempt is signalled after about 10 s (here 2000 to 3000 epochs of this fit), checkpoints
    and is requeued as a resume in its own folder; submitit's local executor runs a job at most 6 times."""
    p = run_py("run.py", "000", "--launcher", "local", "--time", "0.25", "--", "--input_path", _image(tmp_path),
               "--num_epochs", 6000, "--log_epoch", 2000, "--save_dir", tmp_path / "log", *TINY, check=True)
    assert "requeued" in p.stdout
    runs = [d for d in (tmp_path / "log" / "000_demo").iterdir() if (d / "args.json").is_file()]
    assert len(runs) == 1  # no second folder
    res = json.loads((runs[0] / "results.json").read_text())
    assert res["complete"] and list(res["samples"]["00"]) == ["2000", "4000", "6000"]
    status = run_py("run.py", "--status", tmp_path / "log" / "000_demo", check=True).stdout
    assert "done" in status and "requeued" in status


def test_slurm_launcher_without_slurm_is_one_line(tmp_path):
    p = run_py("run.py", "000", "--launcher", "slurm", "--partition", "gpu", "--", "--save_dir", tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "no SLURM on this machine" in p.stderr and "--launcher local" in p.stderr

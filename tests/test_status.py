"""`run.py --status` on a sweep run by the queue (sweep.json): every task with its state, the epoch it
reached, its last PSNR and its folder; on a folder of run folders without sweep.json; without torch."""
import json
import re
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio

from tests.conftest import KILL_AFTER_SNAPSHOT, ROOT, one_line_error, run_in_process, sitecustomize_env, smooth_image

TINY = ["--hidden_features", "16", "--hidden_layers", "1", "--quiet", "--device", "cpu", "--no_images"]


def _rows(stdout):
    """{task: its cells} of a --status table (after its title and header lines); cells are apart by two
    spaces or more."""
    lines = stdout.strip().splitlines()
    assert lines[1].split() == ["task", "state", "sample", "epoch", "psnr", "folder"], lines
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[2:]]
    return {r[0]: r for r in rows}


def test_status_of_a_queue_sweep_lists_every_task(tmp_path):
    """scale_1.0's main.py is SIGKILLed right after its first checkpoint (epoch 20 of 60); sym_power
    finishes. --status then says which is which, how far each got and with what PSNR."""
    data = tmp_path / "imgs"
    data.mkdir()
    imageio.imwrite(data / "00.png", smooth_image(12, 12))
    log = tmp_path / "log"
    env = {**sitecustomize_env(tmp_path / "hook", KILL_AFTER_SNAPSHOT), "KILL_TAG": "scale_1.0"}
    p = run_in_process("run.py", "001", "--only", "scale_1.0,sym_power", "--gpus", "", "--", "--input_path", data,
                       "--save_dir", log, "--num_epochs", "60", "--log_epoch", "20", "--snap_epoch", "20", *TINY,
                       env=env)
    assert p.returncode == 1, p.stderr
    sweep = log / "001_trans"
    status = run_in_process("run.py", "--status", sweep)
    assert status.returncode == 1  # a task failed, as the sweep's own exit code said
    title = status.stdout.splitlines()[0]
    assert str(sweep) in title and "experiment 001" in title and "2 task(s)" in title
    rows = _rows(status.stdout)
    assert set(rows) == {"scale_1.0", "sym_power"}
    tasks = {t["name"]: t for t in json.loads((sweep / "sweep.json").read_text())["tasks"]}
    killed = rows["scale_1.0"]
    assert killed[1:4] == ["killed (signal 9)", "00", "20/60"]
    assert Path(killed[5]).resolve() == (sweep / tasks["scale_1.0"]["folder"]).resolve()
    import torch  # killed before its results.json: its checkpoint holds the metrics it had logged

    ckpt, = (sweep / tasks["scale_1.0"]["folder"] / "ckpt").glob("*.pth")
    recorded = torch.load(ckpt, weights_only=True)["recorder"]["samples"]["00"]
    assert killed[4] == f"{recorded['20']['psnr']:.2f} @20"  # its last logged PSNR, at the epoch it reached
    done = rows["sym_power"]
    res = json.loads((sweep / tasks["sym_power"]["folder"] / "results.json").read_text())
    assert done[1:5] == ["ok", "00", "60/60", f"{res['mean']['60']['psnr']:.2f}"]
    # the same runs seen as run folders (no sweep.json above them): their state from results.json alone
    plain = run_in_process("run.py", "--status", log)
    assert plain.returncode == 0 and "no sweep.json" in plain.stdout.splitlines()[0]
    assert sorted(r[1] for r in _rows(plain.stdout).values()) == ["ok", "unfinished"]


def test_status_loads_no_torch_and_refuses_a_folder_without_runs(tmp_path):
    run = tmp_path / "log" / "001_trans" / "r"
    run.mkdir(parents=True)
    (run / "args.json").write_text(json.dumps({"tag": "r"}))
    (run / "progress.json").write_text(json.dumps({"sample": "00", "epoch": 7, "of": 50, "psnr": None,
                                                   "psnr_epoch": None, "s_per_epoch": 0.4, "eta_s": 17.2}))
    (tmp_path / "log" / "001_trans" / "sweep.json").write_text(json.dumps({"experiment": "001", "tasks": [
        {"name": "r", "set": "r", "argv": ["--run_folder", str(run)], "status": "running", "folder": str(run)},
        {"name": "q", "set": "q", "argv": ["--run_folder", str(run.parent / "q")], "status": "pending",
         "folder": str(run.parent / "q")}]}))
    code = (f"import sys, run; rc = run.main(['--status', {str(run.parent)!r}]); "
            f"print('TORCH', 'torch' in sys.modules); sys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == "TORCH False"
    rows = _rows("\n".join(p.stdout.strip().splitlines()[:-1]))
    assert rows["r"][1:5] == ["running", "00", "7/50", "-"] and rows["r"][6].startswith("(progress last written")
    assert rows["q"][1:] == ["pending", "-", "-", "-", "-"]
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(run_in_process("run.py", "--status", empty), empty, "sweep.json", "jobs.json")


def test_run_help_names_the_default_experiment_the_pass_through_and_the_views():
    help_text = run_in_process("run.py", "--help", check=True).stdout
    assert "[-- main.py options]" in help_text and "python run.py 001 -- --num_epochs" in help_text
    assert "runs experiment 000 (the demo" in help_text
    for command in ["python run.py --status log/001_trans",  # the commands README's "What to look at" leads with
                    "tensorboard --logdir log/001_trans --samples_per_plugin images=100",
                    "python summarize.py log/001_trans --baseline scale_1.0 --plot log/001_trans/curves.png"]:
        assert command in help_text, command


def test_resuming_a_finished_sweep_says_so_with_or_without_dry_run_and_a_file_is_not_a_folder(tmp_path):
    sweep = tmp_path / "001_trans"
    (sweep / "r").mkdir(parents=True)
    (sweep / "sweep.json").write_text(json.dumps({"experiment": "001", "tasks": [
        {"name": "r", "set": "r", "argv": ["--run_folder", str(sweep / "r")], "status": "ok",
         "folder": str(sweep / "r")}]}))
    for extra in ([], ["--dry_run"]):
        p = run_in_process("run.py", "--resume", sweep, *extra)
        assert p.returncode == 0 and p.stdout == "", (p.stdout, p.stderr)
        assert p.stderr.strip() == f"{sweep}: every task has finished; nothing to resume"
    assert sorted(q.name for q in sweep.iterdir()) == ["r", "sweep.json"]  # no lock file left either
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    one_line_error(run_in_process("run.py", "--resume", a_file), a_file, "a file, not a sweep folder")
    one_line_error(run_in_process("main.py", "--resume", a_file), a_file, "a file, not a run folder")


def test_a_task_refused_at_the_door_is_reported_without_a_run_folder(tmp_path):
    bad = tmp_path / "imgs"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"not a png at all")
    p = run_in_process("run.py", "001", "--only", "sym_power", "--gpus", "", "--", "--input_path", bad,
                       "--save_dir", tmp_path / "log", *TINY)
    assert p.returncode == 1, p.stderr
    line, = [line for line in p.stdout.splitlines() if line.startswith("sym_power ")]
    assert re.search(r"failed \(exit 2\) .* s  -  \| error: .*x\.png", line), line
    assert sorted(q.name for q in (tmp_path / "log" / "001_trans").iterdir()) == [".lock", "sweep.json", "tasks"]

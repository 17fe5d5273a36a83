"""run.py from another folder, a sweep moved after it ran, run.py's options with --resume / --status, a
stop before the first epoch, and the summariser on a run still training or a damaged number."""
import json
import shutil

import pytest

import summarize
from tests.conftest import ROOT, image_folder, one_line_error, run_in_process, run_py, sitecustomize_env
from tests.test_paired import run as paired_run, values
from tests.test_sweep_faults import QUICK
from util.lock import hold


def _tasks(sweep):
    return {t["name"]: t for t in json.loads((sweep / "sweep.json").read_text())["tasks"]}


def test_a_sweep_started_elsewhere_writes_only_under_its_save_dir_and_resumes_after_a_move(tmp_path):
    here = tmp_path / "here"
    image_folder(here, ["00"])  # here/00.png: a relative input after -- is the user's file, not the repository's
    p = run_in_process("run.py", "001", "--only", "scale_1.0,sym_power", "--gpus", "", "--save_dir", "rel", "--",
                       "--input_path", "00.png", *QUICK, cwd=here)
    assert p.returncode == 0, p.stderr
    sweep = here / "rel" / "001_trans"
    tasks = _tasks(sweep)
    assert all((sweep / t["folder"] / "results.json").is_file() for t in tasks.values())  # relative to the sweep
    assert not (ROOT / "rel").exists()

    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(sweep, moved)  # as cp -r or rsync: the record's old place is gone
    shutil.rmtree(here / "rel")
    res_path = moved / tasks["sym_power"]["folder"] / "results.json"
    res = json.loads(res_path.read_text())
    res["complete"] = False  # as if it had been interrupted
    res_path.write_text(json.dumps(res))
    record = json.loads((moved / "sweep.json").read_text())
    record["tasks"] = [{**t, "status": "interrupted (resumable)" if t["name"] == "sym_power" else t["status"]}
                       for t in record["tasks"]]
    (moved / "sweep.json").write_text(json.dumps(record))
    dry = run_in_process("run.py", "--resume", moved, "--dry_run", check=True)
    assert dry.stdout.strip() == f"python main.py --resume {moved / tasks['sym_power']['folder']}"
    assert res_path.read_text() == json.dumps(res)  # --dry_run trained nothing
    run_in_process("run.py", "--resume", moved, "--gpus", "", check=True)
    assert json.loads(res_path.read_text())["complete"]
    assert _tasks(moved)["sym_power"]["status"] == "ok" and not (here / "rel").exists()


def _sweep(tmp_path, folder):
    log = tmp_path / "001_trans"
    log.mkdir()
    (log / "sweep.json").write_text(json.dumps({"experiment": "001", "tasks": [
        {"name": "t", "argv": ["--input_path", "x.png", "--run_folder", folder], "status": "pending", "folder": folder}]}))
    return log


@pytest.mark.parametrize("given,needle", [
    (["--resume", "{log}", "--save_dir", "x"], "--save_dir"), (["--resume", "{log}", "--full"], "--full"),
    (["--resume", "{log}", "--partition", "p"], "--partition"), (["--resume", "{log}", "--time", "5"], "--time"),
    (["--resume", "{log}", "--gpus_per_task", "2"], "--gpus_per_task"),
    (["--resume", "{log}", "--launcher", "slurm", "--gpus", "0"], "--gpus"),
    (["--status", "{log}", "--dry_run"], "--dry_run"), (["--status", "{log}", "--workers", "2"], "--workers"),
    (["--status", "{log}", "--launcher", "local"], "--launcher"), (["001", "--full", "--dry_run"], "--full"),
    (["001", "--time", "5", "--dry_run"], "--time")])
def test_run_py_options_that_cannot_apply_are_refused(tmp_path, given, needle):
    log = _sweep(tmp_path, "r")
    one_line_error(run_in_process("run.py", *[a.format(log=log) for a in given]), needle)
    assert sorted(p.name for p in log.iterdir()) == ["sweep.json"]


def test_an_older_record_from_elsewhere_names_the_way_out(tmp_path):
    log = _sweep(tmp_path, "/elsewhere/001_trans/r")  # absolute, as run.py wrote before "paths" were relative
    one_line_error(run_in_process("run.py", "--resume", log, "--gpus", ""), "inside", "main.py --resume")


def test_gpus_this_machine_lacks_are_refused_not_run_on_the_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi: no NVIDIA GPU
    one_line_error(run_in_process("run.py", "001", "--gpus", "0,1,3", "--dry_run"), "--gpus", "no GPU 0, 1, 3")


# main.py's first attempt sends SIGTERM to run.py while it starts (before its own handlers exist), then waits
# for run.py's SIGTERM to end it (the default action: no handler of main.py's exists yet)
STOP_AT_START = """
import os, signal, sys
if sys.argv[0].endswith("main.py") and "--resume" not in sys.argv:
    os.kill(os.getppid(), signal.SIGTERM)
    while True:
        signal.pause()
"""


def test_a_stop_before_the_first_epoch_is_recorded_as_interrupted(tmp_path, tiny_png):
    log = tmp_path / "log"
    p = run_py("run.py", "001", "--only", "sym_power", "--gpus", "", "--save_dir", log, "--",
               "--input_path", tiny_png, *QUICK, env=sitecustomize_env(tmp_path / "hook", STOP_AT_START))
    assert p.returncode == 130 and "Traceback" not in p.stderr, p.stderr
    assert _tasks(log / "001_trans")["sym_power"]["status"] == "interrupted (resumable)"
    assert "killed" not in p.stdout


def test_the_summary_shows_a_run_still_training_and_refuses_an_absurd_number(tmp_path, capsys):
    for seed in (1, 2):
        paired_run(tmp_path / "001_trans", "scale_1.0", seed, values(seed, 0))
    training = paired_run(tmp_path / "001_trans", "sym_power", 1, values(1, 0))
    (training / "results.json").unlink()  # no sample finished yet
    huge = values(2, 0)
    huge[0] = 1e308
    absurd = paired_run(tmp_path / "001_trans", "z_score", 2, huge)
    with hold(training, "run folder"):  # as main.py holds it while it trains
        assert summarize.main([str(tmp_path)]) == 0
    rows = {line.split("|")[1].strip(): line for line in capsys.readouterr().out.splitlines() if line.startswith("|")}
    assert "running" in rows["sym_power"] and "failed" not in rows["sym_power"]
    assert "unreadable" in rows["z_score"] and "1e+308" in rows["z_score"] and absurd.name in rows["z_score"]
    assert summarize.main([str(tmp_path)]) == 0  # its lock released: a run with no results, as before
    assert "failed (no results)" in capsys.readouterr().out


def test_every_path_option_is_made_absolute_however_it_is_spelled():
    from opt import absolute_paths

    given = ["--input_p", "a.png", "--save_dir=rel", "--lr", "1", "--input_path", "builtin:chirp", "--resume", "/abs",
             "--eval_ckpt", "c.pth", "--run_folder", "r", "--tag", "a.png"]
    assert absolute_paths(given, "/u") == ["--input_p", "/u/a.png", "--save_dir=/u/rel", "--lr", "1", "--input_path",
                                           "builtin:chirp", "--resume", "/abs", "--eval_ckpt", "/u/c.pth",
                                           "--run_folder", "/u/r", "--tag", "a.png"]

"""The sweep layer under faults: stop signals to run.py, two writers on one folder, a sweep's record,
options after `--` that would mislabel a row, file modes and a full disk, --workers and the ETA.

Signals are sent by real processes at chosen points (a sitecustomize hook inside main.py, after its
first checkpoint), never after a guessed sleep; waits are for events, with bounds no machine reaches."""
import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest

import run as run_py
from tests.conftest import (KILL_AFTER_SNAPSHOT, ROOT, image_folder, one_line_error, run_in_process, run_py as
                            run_process, sitecustomize_env)
from util.lock import hold

TINY = ["--hidden_features", "32", "--hidden_layers", "1", "--quiet", "--device", "cpu", "--no_images", "--eager"]
QUICK = ["--num_epochs", "300", "--log_epoch", "100", "--snap_epoch", "50", *TINY]

# In main.py's first attempt of a task (not a --resume) whose first checkpoint comes while no stop has
# been sent yet: mark this task ready, and when $STOP_TASKS tasks are ready, the last one sends
# $STOP_SIGNAL to run.py (its parent), as a cluster or a closed terminal would. Each ready task then
# waits until run.py has passed the stop on to it (SIGTERM): every running task is mid-run when the
# signal comes, whatever the machine's speed.
STOP_HOOK = """
import os, signal, sys, time
if sys.argv[0].endswith("main.py") and "--resume" not in sys.argv and os.environ.get("STOP_DIR"):
    import trainer.checkpoint as checkpoint
    _save, d = checkpoint.save, os.environ["STOP_DIR"]
    def save(*args, **kwargs):
        _save(*args, **kwargs)
        checkpoint.save = _save  # once
        if os.path.exists(os.path.join(d, "sent")):
            return  # a task started after the stop (by the resume): it runs on
        got, handler = [], signal.getsignal(signal.SIGTERM)
        def relay(signum, frame):
            got.append(signum)
            handler(signum, frame)
        signal.signal(signal.SIGTERM, relay)
        open(os.path.join(d, f"ready_{os.getpid()}"), "w").close()
        if sum(n.startswith("ready_") for n in os.listdir(d)) >= int(os.environ["STOP_TASKS"]):
            try:
                os.close(os.open(os.path.join(d, "sent"), os.O_CREAT | os.O_EXCL))
                os.kill(os.getppid(), getattr(signal, os.environ["STOP_SIGNAL"]))
            except FileExistsError:
                pass
        while not got:
            time.sleep(0.01)
    checkpoint.save = save
"""


def _stop_env(tmp_path, sig, tasks):
    (tmp_path / "stop").mkdir()
    return {**sitecustomize_env(tmp_path / "hook", STOP_HOOK), "STOP_DIR": str(tmp_path / "stop"),
            "STOP_SIGNAL": sig, "STOP_TASKS": str(tasks)}


def _sweep(log):
    return json.loads((log / "001_trans" / "sweep.json").read_text())


def _statuses(log):
    return {t["name"]: t["status"] for t in _sweep(log)["tasks"]}


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_a_stop_signal_to_run_py_checkpoints_its_task_and_resume_finishes_the_sweep(tmp_path, tiny_png, sig):
    log = tmp_path / "log"
    p = run_process("run.py", "001", "--only", "scale_1.0,sym_power", "--gpus", "", "--workers", "1", "--",
                    "--input_path", tiny_png, "--save_dir", log, *QUICK, env=_stop_env(tmp_path, sig, 1))
    assert p.returncode == 130 and "Traceback" not in p.stderr, p.stderr
    assert f"{sig}: stopping" in p.stderr and f"run.py --resume {log / '001_trans'}" in p.stderr
    assert _statuses(log) == {"scale_1.0": "interrupted (resumable)", "sym_power": "not started"}
    task_log = (log / "001_trans" / "tasks" / "scale_1.0.log").read_text()
    assert "SIGTERM: stopping after this epoch" in task_log and "continue with: python main.py --resume" in task_log
    assert "Traceback" not in task_log and "Broken pipe" not in task_log
    folder = log / "001_trans" / _sweep(log)["tasks"][0]["folder"]  # relative to the sweep
    assert json.loads(open(os.path.join(folder, "ckpt", "latest.json")).read())["epoch"] >= 50
    if sig == "SIGHUP":
        return  # the same stop; the resume is the SIGTERM case's
    p = run_in_process("run.py", "--resume", log / "001_trans", "--gpus", "", check=True)
    assert "Traceback" not in p.stderr
    assert [line.split()[:2] for line in p.stdout.splitlines()] == [["scale_1.0", "ok"], ["sym_power", "ok"]]
    assert _statuses(log) == {"scale_1.0": "ok", "sym_power": "ok"}
    assert "resuming after" in open(os.path.join(folder, "log.txt")).read()  # continued, not restarted
    assert "histograms overlaid" in p.stderr and list((log / "001_trans" / "_overlay").glob("*.png"))


def test_a_stop_reaches_every_running_task(tmp_path, tiny_png):
    log = tmp_path / "log"
    p = run_process("run.py", "001", "--only", "scale_1.0,sym_power,z_score", "--gpus", "", "--workers", "2", "--",
                    "--input_path", tiny_png, "--save_dir", log, *QUICK, env=_stop_env(tmp_path, "SIGTERM", 2))
    assert p.returncode == 130 and "Traceback" not in p.stderr, p.stderr
    states = [t["status"] for t in _sweep(log)["tasks"]]  # the experiment's order: z_score, scale_1.0, sym_power
    assert states == ["interrupted (resumable)", "interrupted (resumable)", "not started"]


# ---- one writer per folder ------------------------------------------------------------------------

def _holder(folder):
    """A real process holding `folder`'s lock until its standard input closes: (process, its pid)."""
    code = "import sys; from util.lock import hold; hold(sys.argv[1], 'run folder'); print('held', flush=True); " \
           "sys.stdin.read()"
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"  # waits for the event, however long it takes
    return proc


def test_a_run_folder_has_one_writer_and_a_dead_holder_leaves_no_lock(tmp_path, tiny_png):
    save = tmp_path / "log"
    p = run_process("main.py", "--input_path", tiny_png, "--save_dir", save, "--num_epochs", "400", "--log_epoch",
                    "200", "--snap_epoch", "200", *TINY, env=sitecustomize_env(tmp_path / "hook", KILL_AFTER_SNAPSHOT))
    assert p.returncode == -signal.SIGKILL
    (folder,) = (save / "debug").iterdir()
    holder = _holder(folder)
    try:
        line = one_line_error(run_in_process("main.py", "--resume", folder), folder)
        assert f"pid {holder.pid}" in line and "run folder" in line
    finally:
        holder.kill()  # a crash: no clean release
        holder.wait()
    p = run_in_process("main.py", "--resume", folder, check=True)  # the killed holder left nothing stuck
    assert json.loads((folder / "results.json").read_text())["complete"]


def test_a_sweep_folder_has_one_writer(tmp_path, tiny_png):
    sweep = tmp_path / "log" / "001_trans"
    sweep.mkdir(parents=True)
    with hold(str(sweep), "sweep folder"):
        p = run_in_process("run.py", "001", "--only", "sym_power", "--gpus", "", "--", "--input_path", tiny_png,
                           "--save_dir", tmp_path / "log", *QUICK)
        assert f"pid {os.getpid()}" in one_line_error(p, sweep, "sweep folder")
    assert sorted(p.name for p in sweep.iterdir()) == [".lock"]  # nothing else written


def test_a_second_sweep_adds_to_the_record_and_the_first_ones_failure_is_resumed(tmp_path, tiny_png):
    log = tmp_path / "log"
    common = ["--gpus", "", "--", "--input_path", tiny_png, "--save_dir", log, *QUICK]
    p = run_in_process("run.py", "001", "--only", "scale_1.0", *common,
                       env={**sitecustomize_env(tmp_path / "hook", KILL_AFTER_SNAPSHOT), "KILL_TAG": "scale_1.0"})
    assert p.returncode == 1 and _statuses(log) == {"scale_1.0": "killed (signal 9)"}
    run_in_process("run.py", "001", "--only", "sym_power", *common, check=True)
    assert _statuses(log) == {"scale_1.0": "killed (signal 9)", "sym_power": "ok"}  # the first sweep's kept
    p = run_in_process("run.py", "--resume", log / "001_trans", "--gpus", "", check=True)
    assert [line.split()[:2] for line in p.stdout.splitlines()] == [["scale_1.0", "ok"]]
    run_in_process("run.py", "001", "--only", "sym_power", *common, check=True)  # the same set again
    assert _statuses(log) == {"scale_1.0": "ok", "sym_power": "ok", "sym_power+2": "ok"}
    assert len({t["folder"] for t in _sweep(log)["tasks"]}) == 3
    assert "every task has finished" in run_in_process("run.py", "--resume", log / "001_trans", check=True).stderr


# ---- options after -- that would mislabel a row ----------------------------------------------------

@pytest.mark.parametrize("extra, option", [
    (["--transform", "min_max"], "--transform"), (["--tag", "same"], "--tag"), (["--pn_beta", "0"], "--pn_beta"),
    (["--model_type", "finer"], "--model_type"), (["--transf=min_max"], "--transform"), (["--rpp"], "--rpp"),
    (["--trans_scale", "4"], "--trans_scale")])
def test_options_after_dashes_that_define_a_set_are_refused(tmp_path, extra, option):
    p = run_in_process("run.py", "001", "--only", "sym_power", "--gpus", "", "--", "--save_dir", tmp_path, *extra)
    one_line_error(p, option, "--only")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("extra, option, hint", [
    (["--resume", "x"], "--resume", "run.py --resume"), (["--eval_ckpt=y"], "--eval_ckpt", "main.py --eval_ckpt"),
    (["--run_fold", "z"], "--run_folder", "one folder")])
def test_options_after_dashes_that_make_a_task_another_command_are_refused(tmp_path, extra, option, hint):
    p = run_in_process("run.py", "001", "--only", "sym_power", "--gpus", "", "--", "--save_dir", tmp_path, *extra)
    one_line_error(p, option, hint)
    assert not any(tmp_path.iterdir())


def test_options_after_dashes_that_keep_the_sets_are_taken(tmp_path):
    p = run_in_process("run.py", "001", "--only", "sym_power", "--dry_run", "--", "--num_epochs", "7", "--lr", "5e-4",
                       "--seed", "1", "--hidden_features", "64", check=True)
    assert "--transform sym_power" in p.stdout and "--num_epochs 7" in p.stdout


# ---- files: modes and a full disk ------------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_atomic_files_get_the_mode_an_ordinary_write_gives(tmp_path, umask):
    from util.io import torch_save, write_json

    old = os.umask(umask)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        torch_save(tmp_path / "c.pth", {"x": 1})
        with open(tmp_path / "plain", "w") as f:
            f.write("x")
    finally:
        os.umask(old)
    plain = os.stat(tmp_path / "plain").st_mode & 0o777
    assert plain == 0o666 & ~umask
    assert {os.stat(tmp_path / n).st_mode & 0o777 for n in ("a.json", "c.pth")} == {plain}


def test_a_run_writes_files_others_can_read(tmp_path, tiny_png):
    old = os.umask(0o022)
    try:
        run_in_process("main.py", "--input_path", tiny_png, "--save_dir", tmp_path, *QUICK, check=True)
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) > 6 and all(os.stat(p).st_mode & 0o777 == 0o644 for p in files), \
        [(p.name, oct(os.stat(p).st_mode & 0o777)) for p in files]


def test_an_atomic_write_onto_a_folder_names_the_folder_and_leaves_no_temporary(tmp_path):
    from util.errors import exit_code_for
    from util.io import write_json

    (tmp_path / "out.json").mkdir()
    with pytest.raises(IsADirectoryError) as e:
        write_json(tmp_path / "out.json", {"x": 1})
    assert e.value.filename == tmp_path / "out.json" and e.value.filename2 is None  # not the hidden .tmp
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    assert exit_code_for(e.value) == 2


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["tensorboard", "results"])
def test_a_full_disk_is_one_line_and_leaves_every_file_readable(tmp_path, tiny_png, monkeypatch, where):
    """The disk fills where TensorBoard's writer thread writes its events, or where results.json is
    written (at its fsync, where a real file system may first report it)."""
    if where == "tensorboard":
        from tensorboard.summary.writer.record_writer import RecordWriter
        monkeypatch.setattr(RecordWriter, "write", _disk_full)
    else:
        import util.io
        real = util.io.os.fsync

        def fsync(fd):
            if os.readlink(f"/proc/self/fd/{fd}").split("/")[-1].startswith(".results.json"):
                _disk_full()
            real(fd)

        monkeypatch.setattr(util.io.os, "fsync", fsync)
    p = run_in_process("main.py", "--input_path", tiny_png, "--save_dir", tmp_path, *QUICK)
    line = one_line_error(p, "No space left")
    assert ("events.out.tfevents" if where == "tensorboard" else "results.json") in line  # the file named
    files = [f for f in tmp_path.rglob("*") if f.is_file()]
    assert files and not [f for f in files if f.name.endswith(".tmp")]  # no half-written file left
    for f in files:
        assert os.stat(f).st_mode & 0o444 and f.read_bytes() is not None
        if f.suffix == ".json":
            json.loads(f.read_text())


# ---- --workers ---------------------------------------------------------------------------------------

def test_workers_give_the_same_psnrs(tmp_path):
    data = image_folder(tmp_path / "img", ["00"], size=16)
    sets = "scale_1.0,sym_power,z_score,01_norm"
    psnrs = {}
    for workers in ("1", "2"):
        log = tmp_path / f"w{workers}"
        p = run_in_process("run.py", "001", "--only", sets, "--gpus", "", "--workers", workers, "--",
                           "--input_path", data / "00.png", "--save_dir", log, *QUICK, check=True)
        assert ("tasks at once" in p.stderr) == (workers == "2")
        psnrs[workers] = {t["set"]: json.loads(open(log / "001_trans" / t["folder"] / "results.json").read())["mean"]["300"]
                          ["psnr"] for t in _sweep(log)["tasks"]}
    assert psnrs["1"].keys() == psnrs["2"].keys() == set(sets.split(","))
    for s in psnrs["1"]:
        assert abs(psnrs["1"][s] - psnrs["2"][s]) < 0.01, (s, psnrs)


def test_default_workers_keep_every_core_busy_only_for_small_fits(tmp_path, monkeypatch):
    small = image_folder(tmp_path / "small", ["a", "b"], size=16)
    large = image_folder(tmp_path / "large", ["a"], size=200)
    monkeypatch.setattr(run_py, "cores", lambda: 4)
    tasks = lambda path, n: [run_py.Task(f"t{i}", ["--input_path", str(path)]) for i in range(n)]  # noqa: E731
    assert run_py.default_workers(tasks(small, 6), []) == 4
    assert run_py.default_workers(tasks(small, 3), []) == 3
    assert run_py.default_workers(tasks(small / "a.png", 3), []) == 3
    assert run_py.default_workers(tasks(large, 6), []) == 1  # a large fit gets every core
    assert run_py.default_workers(tasks(tmp_path / "missing", 6), []) == 1
    assert run_py.default_workers(tasks(small, 6), ["0", "1"]) == 1  # one per GPU
    one_line_error(run_in_process("run.py", "001", "--workers", "0", "--dry_run"), "--workers")


# ---- the ETA -------------------------------------------------------------------------------------

def test_the_eta_counts_a_running_tasks_own_progress(tmp_path):
    from sweep.queue import eta_s, task_progress

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "args.json").write_text(json.dumps({"num_epochs": 1000, "input_path": "x.png",
                                                  "signal_type": "image"}))
    done = run_py.Task("a", [])
    done.rc, done.wall, done.status = 0, 100.0, "ok"
    running = run_py.Task("b", [], str(folder))
    running.status, running.started = "running", 1000.0
    pending = run_py.Task("c", [])
    assert task_progress(running) is None and eta_s([running, pending], 1, now=1050.0) is None
    (folder / "progress.json").write_text(json.dumps({"sample": "x", "epoch": 500, "of": 1000, "psnr": 30.1,
                                                      "psnr_epoch": 500, "s_per_epoch": 0.1, "eta_s": 50.0}))
    assert task_progress(running) == (500, 1000)  # the fit's own progress.json, not its log
    # b is half done after 50 s (so 50 s left); c takes a finished task's 100 s after it, on one slot
    assert eta_s([done, running, pending], 1, now=1050.0) == pytest.approx(150.0)
    assert eta_s([done, running, pending], 2, now=1050.0) == pytest.approx(100.0)  # c beside b: its own 100 s
    # before any task has finished, the running one's own rate is the time per task
    assert eta_s([running, pending], 1, now=1050.0) == pytest.approx(150.0)
    assert eta_s([pending], 1, now=1050.0) is None
    # two images: the first finished (results.json), the second half way
    image_folder(tmp_path / "two", ["a", "b"])
    (folder / "args.json").write_text(json.dumps({"num_epochs": 1000, "input_path": str(tmp_path / "two"),
                                                  "signal_type": "image"}))
    (folder / "results.json").write_text(json.dumps({"samples": {"a": {"500": {}, "1000": {}}}}))
    running.samples = None
    assert task_progress(running) == (1500, 2000)


def test_a_planned_run_folder_left_empty_is_started_again_and_a_used_one_refused(tmp_path, tiny_png):
    folder = tmp_path / "001_trans" / "sym_power_planned"
    folder.mkdir(parents=True)  # a task killed after making its folder, before its args.json
    run_in_process("main.py", "--input_path", tiny_png, "--run_folder", folder, *QUICK, check=True)
    assert json.loads((folder / "results.json").read_text())["complete"]
    p = run_in_process("main.py", "--input_path", tiny_png, "--run_folder", folder, *QUICK)
    one_line_error(p, folder, "--resume")
    assert json.loads((folder / "results.json").read_text())["complete"]  # the run there is left as it was


def test_the_eta_takes_a_running_tasks_rate_after_its_start_up():
    """A task that spent 250 s starting (torch, compiling the step, a busy machine) and then did 100 epochs
    in 30 s has 800 x 0.3 s left, not its whole time so far spread over its epochs (the 6x of issue 38)."""
    from sweep.queue import eta_s, sweep_eta

    task = run_py.Task("a", [])
    task.status, task.started = "running", 0.0
    seen = iter([(100, 1000), (200, 1000)])
    progress = lambda t: next(seen)  # noqa: E731
    assert eta_s([task], 1, now=300.0, progress=progress) == pytest.approx(300 / 100 * 900)  # one look: since its start
    assert eta_s([task], 1, now=330.0, progress=progress) == pytest.approx(240.0)
    # the pure function: two tasks done in 100 and 200 s, one running with 30 s left, three queued, two slots
    assert sweep_eta([100.0, 200.0], [(10, 20, 30.0), None], 3, 2) == pytest.approx(330.0)  # 30+150+150 | 150+150
    assert sweep_eta([], [None], 2, 1) is None

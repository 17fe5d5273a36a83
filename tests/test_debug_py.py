"""debug.py: its argument list, with the options given after it passed through to main.py (they win),
into its own folder (log/debug/, not the demo's log/000_demo/)."""
import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT, run_folder, run_in_process


def test_options_after_debug_py_pass_through_into_its_own_folder(tmp_path, tiny_png, monkeypatch):
    import debug

    monkeypatch.chdir(tmp_path)  # the command's relative paths are where it runs, not the repository's
    given = ["--input_path", tiny_png.name, "--num_epochs", "3", "--log_epoch", "3", "--save_dir", "log",
             "--hidden_features", "16", "--hidden_layers", "1", "--quiet", "--device", "cpu"]
    runs = []  # main.py runs here, in-process, with the command debug.py would start

    def run_main(cmd, env):
        assert cmd[1] == str(ROOT / "main.py")
        runs.append(run_in_process("main.py", *cmd[2:], cwd=os.getcwd()))
        return runs[-1].returncode

    monkeypatch.setattr(debug, "run_main", run_main)
    monkeypatch.setattr(debug.sys, "argv", ["debug.py", *given])
    assert debug.debug() == 0, runs[0].stderr
    folder = run_folder(tmp_path / "log")
    assert folder.parent == tmp_path / "log" / "debug" and folder.name.startswith("debug_demo_"), folder
    args = json.loads((folder / "args.json").read_text())
    assert args["num_epochs"] == 3 and args["hidden_features"] == 16 and args["input_path"] == tiny_png.name
    assert args["transform"] == "sym_power" and args["eval_lpips"] is True  # the list's own options stay


def test_ctrl_c_stops_the_run_with_a_checkpoint(tmp_path, tiny_png):
    """A terminal's Ctrl-C goes to the whole foreground group, debug.py and main.py alike: main.py
    checkpoints at the end of its epoch and exits 130, and debug.py waits for it and passes the 130 on,
    with no traceback (a real process group; the signal is sent once training has begun)."""
    save_dir = tmp_path / "log"
    cmd = [sys.executable, "debug.py", "--input_path", str(tiny_png), "--num_epochs", "1000000", "--log_epoch",
           "1000000", "--save_dir", str(save_dir), "--hidden_features", "16", "--hidden_layers", "1",
           "--no_images", "--device", "cpu", "--eager"]

    def terminal_like():  # its own group, with Ctrl-C's default action (a shell's `&` would ignore it)
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    p = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), preexec_fn=terminal_like,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300  # a generous bound on start-up, not a timing assertion
        while not any("training epochs" in f.read_text() for f in save_dir.rglob("log.txt")):
            assert p.poll() is None and time.monotonic() < deadline, p.stderr.read() if p.poll() is not None else ""
            time.sleep(0.2)
        os.killpg(p.pid, signal.SIGINT)
        _, stderr = p.communicate(timeout=300)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, stderr
    assert "Traceback" not in stderr and "--resume" in stderr
    assert list(save_dir.rglob("latest.json")), "no checkpoint"

"""Bad inputs through the real entry points: a one-line error and a non-zero exit, or correct handling;
never a traceback, never NaN. Resume, atomic files and checkpoint safety."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import imageio.v2 as imageio
import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from tests.conftest import (KILL_AFTER_SNAPSHOT, ROOT, dataset, one_line_error, run_folder, run_in_process, run_py,
                            sitecustomize_env, smooth_image, write_png)

QUICK = ["--num_epochs", "4", "--log_epoch", "2", "--hidden_features", "16", "--hidden_layers", "1", "--quiet",
         "--device", "cpu"]


def main_py(tmp_path, *args):
    return run_in_process("main.py", "--save_dir", tmp_path / "log", *QUICK, *args)


def clean_results(tmp_path):
    text = (run_folder(tmp_path / "log") / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    return json.loads(text)


# ---- images -----------------------------------------------------------------------------------

def test_missing_path(tmp_path):
    line = one_line_error(main_py(tmp_path, "--input_path", tmp_path / "nope.png"), tmp_path / "nope.png")
    assert "download.py" not in line  # a path the manifest does not know gets no download advice
    assert not (tmp_path / "log").exists()
    # an experiment's input under data/ names the command that fetches it (a fresh clone has no data)
    one_line_error(main_py(tmp_path, "--input_path", "data/div2k/test_data/absent.png"),
                   "data/div2k/test_data/absent.png", "python data/download.py div2k_test")


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    one_line_error(main_py(tmp_path, "--input_path", tmp_path / "empty"), tmp_path / "empty")


def test_folder_with_other_files_is_fitted_and_says_so(tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    imageio.imwrite(d / "a.png", smooth_image(8, 8))
    (d / "readme.md").write_text("x")
    p = main_py(tmp_path, "--input_path", d)
    assert p.returncode == 0 and "1 file" in p.stderr and "error" not in p.stderr  # says what it skipped
    assert list(clean_results(tmp_path)["samples"]) == ["a"]


@pytest.mark.parametrize("kind", ["gray", "rgba", "palette", "16bit", "1x1", "1xN", "constant"])
def test_unusual_images_fit(tmp_path, kind):
    path = tmp_path / f"{kind}.png"
    if kind == "palette":
        Image.fromarray(smooth_image(12, 12)).convert("P", palette=Image.ADAPTIVE, colors=16).save(path)
    else:
        arr = {"gray": smooth_image(12, 12, c=1), "rgba": smooth_image(12, 12, c=4),
               "16bit": smooth_image(12, 12, dtype=np.uint16), "1x1": np.full((1, 1, 3), 90, np.uint8),
               "1xN": smooth_image(1, 20), "constant": np.full((12, 12, 3), 128, np.uint8)}[kind]
        write_png(path, arr)
    p = main_py(tmp_path, "--input_path", path, "--transform", "sym_power")
    assert p.returncode == 0, p.stderr
    res = clean_results(tmp_path)
    assert set(res["samples"][kind]["4"]) >= {"psnr", "ssim", "ssim_ref", "mse"}
    if kind in ("1x1", "1xN"):
        assert res["samples"][kind]["4"]["ssim"] is None  # smaller than SSIM's window


@pytest.mark.parametrize("content", ["truncated", "text"])
def test_corrupt_png(tmp_path, content):
    path = tmp_path / "bad.png"
    if content == "truncated":
        src = dataset("div2k/test_data/00.png").read_bytes()
        path.write_bytes(src[: len(src) // 3])
    else:
        path.write_text("this is not a picture")
    one_line_error(main_py(tmp_path, "--input_path", path), path)


# ---- audio ------------------------------------------------------------------------------------

def test_empty_audio(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros((0, 1)), 16000)
    one_line_error(main_py(tmp_path, "--signal_type", "audio", "--input_path", path), path)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_audio_with_nan_or_inf(tmp_path, bad):
    wav = np.sin(np.linspace(0, 50, 800))
    wav[100] = bad
    path = tmp_path / "bad.wav"
    sf.write(path, wav, 16000, subtype="FLOAT")
    assert "NaN" in one_line_error(main_py(tmp_path, "--signal_type", "audio", "--input_path", path), path)


def test_float_audio_beyond_full_scale_is_refused_not_clipped(tmp_path):
    """Samples up to +-100 would be clipped to a square wave; the file is refused, naming the peak. A
    full-scale file (and resampling's ringing past it) reads."""
    from components.signals import read_audio

    wav = 100 * np.sin(np.linspace(0, 50, 800))
    path = tmp_path / "loud.wav"
    sf.write(path, wav, 16000, subtype="FLOAT")
    line = one_line_error(main_py(tmp_path, "--signal_type", "audio", "--input_path", path), path, "[-1, 1]")
    assert "reach 99.99" in line
    sf.write(path, wav / 100, 22050, subtype="FLOAT")
    data, _ = read_audio(str(path), 1.0)
    assert data.abs().max() <= 1 and data.abs().max() > 0.99


# ---- options ----------------------------------------------------------------------------------

@pytest.mark.parametrize("opt,value", [("--transform", "gauss"), ("--model_type", "mlp"), ("--signal_type", "mesh")])
def test_unknown_choices(tmp_path, opt, value):
    one_line_error(main_py(tmp_path, "--input_path", "x.png", opt, value), opt, value)


def test_unknown_experiment_id():
    one_line_error(run_in_process("run.py", "042"), "042")


@pytest.mark.parametrize("epochs", ["0", "-3"])
def test_non_positive_epochs(tmp_path, tiny_png, epochs):
    one_line_error(main_py(tmp_path, "--input_path", tiny_png, "--num_epochs", epochs), "--num_epochs", epochs)


@pytest.mark.parametrize("opt,value,rule", [
    ("--pn_alpha", "nan", "finite"), ("--lr", "inf", "finite"), ("--first_omega", "nan", "finite"),
    ("--gamma_trans", "0", "positive (a forced gamma) or -1"), ("--trans_scale", "0", "non-zero"),
    ("--scale", "-30", "positive"), ("--pn_cum", "1.5", "in [0.01, 0.99]"), ("--gamma_boundary", "0.5", ">= 1"),
    ("--pn_beta", "inf", "finite"), ("--hidden_layers", "-1", ">= 0"), ("--box_shift", "-0.1", ">= 0")])
def test_numeric_options_are_checked_in_one_place(opt, value, rule):
    from opt import OptionError, build_parser, check

    with pytest.raises(OptionError, match=rf"^{opt} must be .*{re.escape(rule)}"):
        check(build_parser().parse_args(["--input_path", "x.png", opt, value]))


def test_off_values_and_defaults_pass_the_check():
    from opt import build_parser, check

    check(build_parser().parse_args(["--input_path", "x.png"]))
    check(build_parser().parse_args(["--input_path", "x.png", "--gamma_trans", "-1", "--pn_buffer", "-1",
                                     "--pn_beta", "0", "--gamma_trans", "0.5"]))


def test_bad_option_exits_2_naming_it_before_any_run_folder(tmp_path, tiny_png):
    one_line_error(main_py(tmp_path, "--input_path", tiny_png, "--pn_alpha", "nan"), "--pn_alpha", "nan")
    assert not (tmp_path / "log").exists()


def test_log_epoch_beyond_num_epochs_still_logs_the_last(tmp_path, tiny_png):
    p = main_py(tmp_path, "--input_path", tiny_png, "--log_epoch", "1000")
    assert p.returncode == 0
    assert list(clean_results(tmp_path)["samples"]["00"]) == ["4"]


def test_save_dir_under_a_regular_file(tmp_path, tiny_png):
    blocker = tmp_path / "file"
    blocker.write_text("")
    p = run_in_process("main.py", "--input_path", tiny_png, "--save_dir", blocker / "log", *QUICK)
    one_line_error(p, blocker)


def test_cpu_allocation_failure_gets_the_out_of_memory_line(tmp_path, tiny_png):
    """PyTorch reports a failed CPU allocation as a plain RuntimeError; it is still out of memory."""
    p = main_py(tmp_path, "--input_path", tiny_png, "--hidden_features", "1000000")
    one_line_error(p, "memory", code=3)


def test_a_bug_inside_the_loop_shows_its_traceback(tmp_path, tiny_png, monkeypatch):
    """A KeyError raised by the code (not a user mistake) leaves main() as itself (the interpreter then
    prints its traceback, exit 1); it is not turned into a one-line 'error:'."""
    import trainer.loop as bt

    def boom(self, *a, **k):
        raise KeyError("injected")

    monkeypatch.setattr(bt.Trainer, "flush_scalars", boom)
    with pytest.raises(KeyError, match="injected"):
        main_py(tmp_path, "--input_path", tiny_png)


SIMULATE_OOM = '''
import os, sys
if os.environ.get("SIMULATE_OOM") and os.environ["SIMULATE_OOM"] in sys.argv:
    import torch
    def _oom(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")
    torch.optim.Adam.step = _oom
'''


@pytest.fixture
def oom_env(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SIMULATE_OOM)
    return {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def test_out_of_memory_suggests_smaller_input(tmp_path, tiny_png, monkeypatch):
    def oom(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated)")

    monkeypatch.setattr(torch.optim.Adam, "step", oom)
    p = main_py(tmp_path, "--input_path", tiny_png, "--tag", "oom")
    assert "--batch_size" in one_line_error(p, "memory", code=3)  # and says what to make smaller


def test_sweep_goes_on_after_out_of_memory(tmp_path, tiny_png, oom_env):
    p = run_in_process("run.py", "001", "--only", "scale_1.0,sym_power", "--gpus", "", "--", "--input_path",
                       tiny_png, "--save_dir", tmp_path / "log", *QUICK, env={**oom_env, "SIMULATE_OOM": "scale_1.0"})
    assert p.returncode == 1
    lines = p.stdout.strip().splitlines()
    assert "failed (exit 3)" in lines[0] and "memory" in lines[0]
    assert lines[1].startswith("sym_power") and " ok " in lines[1]


# ---- resume -----------------------------------------------------------------------------------

RESUME = ["--num_epochs", "300", "--log_epoch", "100", "--snap_epoch", "40", "--hidden_features", "32",
          "--hidden_layers", "2", "--quiet", "--device", "cpu", "--no_images"]


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        imageio.imwrite(folder / f"{i}.png", smooth_image(16, 16, seed=i))
    base = ["--input_path", str(folder), "--transform", "sym_power", *RESUME]
    run_in_process("main.py", *base, "--save_dir", tmp_path / "straight", check=True)
    straight = json.loads((run_folder(tmp_path / "straight") / "results.json").read_text())

    # SIGKILL in the second image, after a snapshot: a real process, killed
    p = run_py("main.py", *base, "--save_dir", tmp_path / "killed",
               env={**sitecustomize_env(tmp_path / "hook", KILL_AFTER_SNAPSHOT), "KILL_IN": "1"})
    assert p.returncode == -signal.SIGKILL, p.stderr
    run_dir = run_folder(tmp_path / "killed")
    assert not json.loads((run_dir / "results.json").read_text())["complete"]
    p = run_in_process("main.py", "--resume", run_dir, check=True)
    assert "resuming after 1 epoch" in p.stderr
    resumed = json.loads((run_dir / "results.json").read_text())
    assert resumed["complete"] and list(resumed["samples"]) == ["0", "1"]
    for name in ("0", "1"):
        for epoch in ("100", "200", "300"):
            a, b = straight["samples"][name][epoch]["psnr"], resumed["samples"][name][epoch]["psnr"]
            assert abs(a - b) < 0.05, (name, epoch, a, b)
    p = run_in_process("main.py", "--resume", run_dir)
    assert p.returncode == 0 and "finished" in p.stderr
    assert len(list((run_dir / "ckpt").glob("ckpt_1_*.pth"))) <= 3  # two snapshots and the final one


def test_run_py_resumes_unfinished_tasks(tmp_path, tiny_png):
    log = tmp_path / "log"
    run_in_process("run.py", "001", "--only", "scale_1.0,sym_power", "--gpus", "", "--", "--input_path", tiny_png,
                   "--save_dir", log, *QUICK, check=True)
    sweep = log / "001_trans" / "sweep.json"
    state = json.loads(sweep.read_text())
    results = os.path.join(sweep.parent, state["tasks"][0]["folder"], "results.json")  # relative to the sweep
    res = json.loads(open(results).read())
    res["complete"] = False  # as if it had been interrupted
    with open(results, "w") as f:
        json.dump(res, f)
    state["tasks"][0]["status"] = "killed (signal 9)"
    sweep.write_text(json.dumps(state))
    p = run_in_process("run.py", "--resume", log / "001_trans", "--gpus", "", check=True)
    (line,) = p.stdout.strip().splitlines()
    assert line.startswith("scale_1.0") and " ok " in line


def test_ctrl_c_inside_code_that_swallows_keyboardinterrupt_still_stops_the_loop():
    # torch.compile's guard checks swallow a KeyboardInterrupt raised inside them; the first Ctrl-C must
    # therefore only be recorded and acted on between epochs.
    from util.interrupt import DeferredInterrupt

    def library_call():
        try:
            signal.raise_signal(signal.SIGINT)  # its Python handler has run when this returns
        except KeyboardInterrupt:
            pass  # what the guard code does

    before = signal.getsignal(signal.SIGINT)
    epochs = 0
    with pytest.raises(KeyboardInterrupt):
        with DeferredInterrupt() as interrupt:
            for _ in range(5):
                interrupt.check()
                epochs += 1
                if epochs == 2:
                    library_call()
    assert epochs == 2 and signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C does not wait for the loop
        with DeferredInterrupt():
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
            epochs = -1
    assert epochs == 2


def test_interrupted_sweep_stops_cleanly_and_resumes(tmp_path, tiny_png):
    log = tmp_path / "log"
    cmd = [sys.executable, "run.py", "001", "--only", "sym_power", "--gpus", "", "--", "--input_path", str(tiny_png),
           "--save_dir", str(log), "--num_epochs", "20000", "--snap_epoch", "50", "--log_epoch", "100",
           "--hidden_features", "32", "--hidden_layers", "2", "--quiet", "--device", "cpu", "--no_images"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600  # polls: a bound, not a speed (the first snapshot is at epoch 50)
    while time.monotonic() < deadline and not list(log.rglob("latest.json")) and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)  # as Ctrl-C
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 130 and "Traceback" not in err
    assert "sym_power" in out and "interrupted (resumable)" in out
    task_log = (log / "001_trans" / "tasks" / "sym_power.log").read_text()
    assert "continue with: python main.py --resume" in task_log and "Traceback" not in task_log
    folder = run_folder(log)
    latest = json.loads((folder / "ckpt" / "latest.json").read_text())  # the interrupted epoch's checkpoint
    state = torch.load(folder / "ckpt" / latest["file"], weights_only=True)
    assert 50 <= state["epoch"] == latest["epoch"] < 20000
    snaps = [int(p.name.split("_")[2]) for p in (folder / "ckpt").glob("*.pth") if p.name != latest["file"]]
    assert all(e % 50 == 0 and e <= state["epoch"] for e in snaps)  # --snap_epoch ones before it


# ---- files and checkpoints --------------------------------------------------------------------

def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path):
    from util.misc import new_run_folder

    folders = {new_run_folder(tmp_path, "exp", "same") for _ in range(20)}
    assert len(folders) == 20


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("trust", [False, True])
def test_malicious_checkpoint_runs_nothing(tmp_path, trust):
    marker = tmp_path / "pwned"
    ckpt = tmp_path / "evil.pth"
    torch.save({"model": {}, "args": Exploit(marker)}, ckpt)
    p = run_in_process("main.py", "--eval_ckpt", ckpt, "--save_dir", tmp_path / "out",
                       *(["--trust_checkpoint"] if trust else []))
    one_line_error(p, ckpt, "objects other than tensors", "system")  # names the class it refused
    assert not marker.exists()
    # the same through --resume: a run folder whose latest checkpoint is the crafted one
    run = tmp_path / "run"
    (run / "ckpt").mkdir(parents=True)
    (run / "args.json").write_text(json.dumps({"input_path": "x.png", "num_epochs": 4}))
    os.replace(ckpt, run / "ckpt" / "evil.pth")
    (run / "ckpt" / "latest.json").write_text(json.dumps({"file": "evil.pth", "sample": "x", "epoch": 2}))
    one_line_error(run_in_process("main.py", "--resume", run), "evil.pth")
    assert not marker.exists()
    with open(run / "ckpt" / "evil.pth", "rb") as f:
        assert b"system" in f.read()  # the exploit really is in the file


@pytest.mark.parametrize("content", [np.random.default_rng(0).bytes(4000), b"hello", b""])
def test_a_checkpoint_of_random_bytes_is_not_readable_rather_than_refused(tmp_path, content):
    ckpt = tmp_path / "noise.pth"
    ckpt.write_bytes(content)
    p = run_in_process("main.py", "--eval_ckpt", ckpt, "--save_dir", tmp_path / "out")
    assert "other than tensors" not in one_line_error(p, ckpt, "not a readable checkpoint")
    assert not (tmp_path / "out").exists()

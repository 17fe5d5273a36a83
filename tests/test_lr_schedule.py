"""--lr_schedule: decay (the published trainer's, the default) or constant (the authors' later EVOS-INR
baseline). Adam's lr at the end of a fit, the schedule recorded and kept by resume and decode, older
run folders and checkpoints read as decay, and experiment 008's sets (docs/protocol.md)."""
import json

import pytest
import torch

from config import EXPERIMENTS, PROTOCOLS
from tests.conftest import VECTORS, one_line_error, run_folder, run_in_process
from tests.test_experiments import _parse_line

SMALL = ["--hidden_features", "16", "--hidden_layers", "1", "--quiet", "--device", "cpu", "--no_images"]
LR = 1e-3


def _fit(tiny_png, save_dir, *extra):
    run_in_process("main.py", "--input_path", tiny_png, "--num_epochs", "20", "--log_epoch", "10",
                   "--snap_epoch", "10", "--lr", LR, "--save_dir", save_dir, *SMALL, *extra, check=True)
    return run_folder(save_dir)


def _lr_after(folder, epoch):
    """Adam's lr once the update of `epoch` (and the schedule's step after it) is done: the checkpoint's."""
    (ckpt,) = (folder / "ckpt").glob(f"ckpt_00_{epoch}_*.pth")
    return torch.load(ckpt, weights_only=True)["optimizer"]["param_groups"][0]["lr"]


@pytest.mark.parametrize("schedule,after_10,after_20", [
    (None, LR * 0.1 ** 0.5, LR * 0.1),  # the default: the published decay, a tenth of --lr at the end
    ("constant", LR, LR),
])
def test_adams_lr_follows_the_schedule_to_the_last_epoch(tiny_png, tmp_path, schedule, after_10, after_20):
    folder = _fit(tiny_png, tmp_path / "log", *(["--lr_schedule", schedule] if schedule else []))
    assert _lr_after(folder, 10) == pytest.approx(after_10, rel=1e-12)
    assert _lr_after(folder, 20) == pytest.approx(after_20, rel=1e-12)
    recorded = schedule or "decay"
    assert json.loads((folder / "args.json").read_text())["lr_schedule"] == recorded
    assert json.loads((folder / "results.json").read_text())["lr_schedule"] == recorded
    (ckpt,) = (folder / "ckpt").glob("ckpt_00_20_*.pth")
    assert torch.load(ckpt, weights_only=True)["args"]["lr_schedule"] == recorded


def test_the_schedules_part_after_the_first_update(tiny_png, tmp_path):
    """The first update uses --lr under both; the fits part after it (the schedule is not a no-op)."""
    curves = {}
    for s in ("decay", "constant"):
        folder = _fit(tiny_png, tmp_path / s, "--lr_schedule", s, "--log_epoch", "1")
        res = json.loads((folder / "results.json").read_text())
        curves[s] = res["samples"]["00"]
    assert curves["decay"]["2"] == curves["constant"]["2"]  # after one update, made at --lr under both
    assert curves["decay"]["3"]["psnr"] != curves["constant"]["3"]["psnr"]


def _interrupt_at_10(folder):
    """Make a finished run look interrupted after epoch 10: latest.json at that snapshot, not complete."""
    (snap,) = (folder / "ckpt").glob("ckpt_00_10_*.pth")
    (folder / "ckpt" / "latest.json").write_text(json.dumps({"file": snap.name, "sample": "00", "epoch": 10}))
    for f in (folder / "ckpt").glob("ckpt_00_20_*.pth"):
        f.unlink()
    res = json.loads((folder / "results.json").read_text())
    (folder / "results.json").write_text(json.dumps({**res, "complete": False}))
    return res


@pytest.mark.parametrize("schedule,drop", [("constant", False), ("decay", True)])
def test_resume_continues_the_schedule_it_started_with(tiny_png, tmp_path, schedule, drop):
    """A constant run resumes constant; an args.json written before the option (no lr_schedule) resumes
    as decay: either way epoch 20 equals the uninterrupted run's exactly, and the last lr is the schedule's."""
    folder = _fit(tiny_png, tmp_path / "log", "--lr_schedule", schedule)
    straight = _interrupt_at_10(folder)
    if drop:
        args = json.loads((folder / "args.json").read_text())
        del args["lr_schedule"]
        (folder / "args.json").write_text(json.dumps(args))
    run_in_process("main.py", "--resume", folder, check=True)
    resumed = json.loads((folder / "results.json").read_text())
    assert resumed["complete"] and resumed["lr_schedule"] == schedule
    assert resumed["samples"]["00"]["20"] == straight["samples"]["00"]["20"]
    assert _lr_after(folder, 20) == pytest.approx(LR if schedule == "constant" else LR * 0.1, rel=1e-12)


def test_resume_refuses_another_schedule_and_an_unknown_one(tiny_png, tmp_path):
    folder = _fit(tiny_png, tmp_path / "log")
    _interrupt_at_10(folder)
    one_line_error(run_in_process("main.py", "--resume", folder, "--lr_schedule", "constant"), "--lr_schedule")
    args = json.loads((folder / "args.json").read_text())
    (folder / "args.json").write_text(json.dumps({**args, "lr_schedule": "cosine"}))
    one_line_error(run_in_process("main.py", "--resume", folder), "args.json", "lr_schedule")


def test_an_unknown_schedule_is_a_one_line_error(tiny_png, tmp_path):
    one_line_error(run_in_process("main.py", "--input_path", tiny_png, "--lr_schedule", "cosine",
                                  "--save_dir", tmp_path), "--lr_schedule")
    assert not (tmp_path / "debug").exists()


def test_the_reference_checkpoint_decodes_as_the_published_decay(tmp_path, div2k_64px):
    """The published code's checkpoint has no lr_schedule: its decode (eval.json) says decay."""
    run_in_process("main.py", "--eval_ckpt", VECTORS / "reference_ckpt" / "ckpt_00_1000.pth", "--input_path",
                   div2k_64px["00"], "--save_dir", tmp_path, "--trust_checkpoint", check=True)
    (result,) = tmp_path.rglob("eval.json")
    assert json.loads(result.read_text())["lr_schedule"] == "decay"


def test_a_checkpoint_of_a_constant_run_decodes_as_constant(tiny_png, tmp_path):
    folder = _fit(tiny_png, tmp_path / "log", "--lr_schedule", "constant")
    run_in_process("main.py", "--eval_ckpt", folder, "--input_path", tiny_png, "--save_dir", tmp_path / "out",
                   check=True)
    (results,) = (tmp_path / "out").rglob("results.json")
    assert json.loads(results.read_text())["lr_schedule"] == "constant"
    (args,) = (tmp_path / "out").rglob("args.json")
    assert json.loads(args.read_text())["lr_schedule"] == "constant"


def test_experiment_008_is_every_row_under_every_protocol():
    """Each set is one (row, protocol) pair, and its options say both: the row's transform and the
    protocol's schedule and lr."""
    p = run_in_process("run.py", "008", "--dry_run", check=True)
    lines = [_parse_line(line) for line in p.stdout.strip().splitlines()]
    pairs = {tuple(o["tag"].split("@")) for o in lines}
    assert pairs == {(r, pr) for r in ("scale_1.0", "sym_power") for pr in PROTOCOLS} and len(lines) == len(pairs)
    assert EXPERIMENTS["008"].sets == tuple(o["tag"] for o in lines)
    for o in lines:
        row, protocol = o["tag"].split("@")
        assert o["transform"] == ("sym_power" if row == "sym_power" else "min_max")
        assert (o["lr_schedule"], float(o["lr"])) == (PROTOCOLS[protocol]["lr_schedule"], PROTOCOLS[protocol]["lr"])
        assert protocol.startswith(o["lr_schedule"]) and float(protocol.split("_")[1]) == float(o["lr"])

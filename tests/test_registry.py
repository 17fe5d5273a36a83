"""A backbone is one record in models.MODELS and a transform one class in components/transform.py's
TRANSFORMS: registered under a new name, with no other file touched, it fits with the default options
(its memory planned from its measured family, or the stated fallback), resumes, and its checkpoints
decode. In-process, on a 16 x 16 image."""
import json

import pytest
import torch
from torch import nn

import main
import models
from components import transform as T
from tests.conftest import image_folder, run_folder
from trainer import memory


class DampedSiren(models.Siren):
    """SIREN with its output halved: a new backbone that derives from a measured one."""

    def forward(self, coords):
        return 0.5 * super().forward(coords)


class TanhNet(nn.Module):
    """A backbone of no measured family."""

    def __init__(self, in_features, out_features, hidden_features=256, hidden_layers=3):
        super().__init__()
        layers = [nn.Linear(in_features, hidden_features), nn.Tanh()]
        for _ in range(hidden_layers):
            layers += [nn.Linear(hidden_features, hidden_features), nn.Tanh()]
        self.net = nn.Sequential(*layers, nn.Linear(hidden_features, out_features))

    def forward(self, coords):
        return self.net(coords)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(models.MODELS, "damped_siren", models.Backbone(
        DampedSiren, {"first_omega": "first_omega", "hidden_omega": "hidden_omega"}, {"lr": 1e-4, "first_omega": 30.0}))
    monkeypatch.setitem(models.MODELS, "tanh", models.Backbone(TanhNet, {}, {"lr": 1e-3}))


def _main(capsys, *argv):
    rc = main.main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == 0, err
    return err


def test_a_new_backbone_fits_resumes_and_decodes(registered, tmp_path, capsys):
    data = image_folder(tmp_path / "data", ["00"])
    err = _main(capsys, "--model_type", "damped_siren", "--input_path", data, "--num_epochs", "4", "--log_epoch", "2",
                "--snap_epoch", "2", "--save_dir", tmp_path / "log", "--device", "cpu", "--quiet", "--no_images")
    assert "backbone damped_siren has no measured bytes per row" in err and "its base class's, siren" in err
    folder = run_folder(tmp_path / "log")
    straight = json.loads((folder / "results.json").read_text())
    assert straight["complete"] and straight["samples"]["00"]["4"]["psnr"] > 0
    # interrupted after epoch 2: resumed, it ends where the uninterrupted fit did
    (snap,) = (folder / "ckpt").glob("ckpt_00_2_*.pth")
    (folder / "ckpt" / "latest.json").write_text(json.dumps({"file": snap.name, "sample": "00", "epoch": 2}))
    (folder / "results.json").write_text(json.dumps({**straight, "complete": False}))
    err = _main(capsys, "--resume", folder)
    assert "resuming after 00 epoch 2" in err
    resumed = json.loads((folder / "results.json").read_text())
    assert resumed["complete"] and resumed["samples"]["00"]["4"] == straight["samples"]["00"]["4"]
    last = max((folder / "ckpt").glob("ckpt_00_4_*.pth"), key=lambda p: p.stat().st_mtime)  # the resumed run's
    assert main.main(["--eval_ckpt", str(last), "--input_path", str(data), "--save_dir", str(tmp_path / "out")]) == 0
    decoded = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert decoded["psnr"] == pytest.approx(straight["samples"]["00"]["4"]["psnr"], abs=3)


def test_an_unmeasured_backbone_is_planned_from_its_family_or_the_fallback(registered):
    assert memory.family("siren") == ("siren", None)
    key, note = memory.family("damped_siren")
    assert key == "siren" and "base class's, siren" in note
    key, note = memory.family("tanh")
    assert key == memory.FALLBACK == max(memory.STEP_BYTES, key=memory.STEP_BYTES.get)
    assert f"the most memory-hungry measured backbone's, {key}" in note
    plan = memory.chunk_plan("auto", 1 << 20, 3 << 20, 3, 2, "tanh", False, 256, 3, torch.device("cpu"), memory_gb=1)
    assert plan.note == note and plan.chunk is not None  # planned (chunked within 1 GB), not a KeyError


class HalfMinMax(T.MinMax):
    """min_max under another name: a new transform class."""
    name = "half_min_max"


def test_a_new_transforms_checkpoint_is_not_refused(monkeypatch, tmp_path, capsys):
    data = image_folder(tmp_path / "data", ["00"])
    _main(capsys, "--input_path", data, "--num_epochs", "2", "--hidden_features", "16", "--hidden_layers", "1",
          "--save_dir", tmp_path / "log", "--device", "cpu", "--quiet", "--no_images")
    (ckpt,) = (run_folder(tmp_path / "log") / "ckpt").glob("ckpt_00_2_*.pth")
    state = torch.load(ckpt, weights_only=True)
    state["transform"]["name"] = HalfMinMax.name
    renamed = tmp_path / "renamed.pth"
    torch.save(state, renamed)
    argv = ["--eval_ckpt", str(renamed), "--input_path", str(data), "--save_dir", str(tmp_path / "out")]
    assert main.main(argv) == 2 and "unknown transform 'half_min_max'" in capsys.readouterr().err  # no such class
    monkeypatch.setitem(T.TRANSFORMS, HalfMinMax.name, HalfMinMax)
    assert main.main(argv) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["psnr"] is not None

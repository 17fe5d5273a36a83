"""--loss: a loss is one record in components/loss.py's LOSSES, which SIREN's fused step follows. For every
registered loss the fused step is the autograd step's (gradients, a few updates) and the chunked step the
one-pass step's; a loss registered in a test fits, stepping aside from the fused step when its record has no
gradient; the loss is recorded and kept by resume and decode, older folders and checkpoints read as mse
(the published vectors hold mse bit for bit: tests/test_backbones.py)."""
import copy
import json

import pytest
import torch

import main
import models
from tests.conftest import VECTORS, image_folder, one_line_error, run_folder, run_in_process
from trainer.fast_step import Kernels, Step
from components.loss import LOSSES, Loss

FUSED = [name for name, loss in LOSSES.items() if loss.grad is not None]
SMALL = ["--hidden_features", "32", "--quiet", "--device", "cpu", "--no_images"]


def quartic(pred, y, reduction="mean"):
    return getattr((pred - y).pow(4), reduction)()


@pytest.fixture
def toys(monkeypatch):
    """Two losses a researcher might add: with the gradient the fused step starts from, and without."""
    monkeypatch.setitem(LOSSES, "quartic", Loss(quartic, lambda r, s: r.pow_(3).mul_(4 * s)))
    monkeypatch.setitem(LOSSES, "quartic_autograd", Loss(quartic))


def _steps(model, coords, gt, loss, eager, chunk=None, n=1):
    """`n` steps of Step: the first step's prediction, loss and gradients, and the last prediction."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 1.0)
    step = Step(model, optimizer, scheduler, lambda p: p, gt.max(), eager=eager,
                kernels=Kernels(False, log=lambda m: None), chunk=chunk, loss=loss)
    assert (step.fused is None) == (eager or LOSSES[loss].grad is None)
    first = None
    for _ in range(n):
        pred, value = step.forward_backward(coords, gt)
        if first is None:
            first = pred.clone(), value.clone(), [p.grad.clone() for p in model.parameters()]
        step.update()
    return (*first, pred.clone())


def _same(a, b, rtol=1e-4):
    (pred, value, grads, last), (pred2, value2, grads2, last2) = a, b
    assert torch.allclose(pred, pred2, atol=1e-6) and abs(value.item() - value2.item()) <= 1e-6 * abs(value.item())
    for g, h in zip(grads, grads2):
        assert torch.allclose(g, h, rtol=rtol, atol=1e-5 * h.abs().max().item())
    assert torch.allclose(last, last2, atol=1e-5)


def _siren_and_data(in_f=2, out_f=3, rows=2500):
    torch.manual_seed(0)
    model = models.Siren(in_f, out_f, hidden_features=64, hidden_layers=3)
    return model, torch.rand(rows, in_f) * 2 - 1, torch.rand(rows, out_f) * 2 - 1


@pytest.mark.parametrize("loss", [*FUSED, "quartic"])
@pytest.mark.parametrize("in_f,out_f", [(2, 3), (1, 1)])
def test_the_fused_step_is_the_autograd_step_for_every_loss(toys, loss, in_f, out_f):
    """Gradients of the first step and the prediction after 5 updates: fused against --eager."""
    model, coords, gt = _siren_and_data(in_f, out_f)
    twin = copy.deepcopy(model)
    _same(_steps(model, coords, gt, loss, eager=False, n=5), _steps(twin, coords, gt, loss, eager=True, n=5))


@pytest.mark.parametrize("loss", [*LOSSES, "quartic", "quartic_autograd"])
@pytest.mark.parametrize("eager", [False, True])
def test_chunks_add_up_to_the_full_batch_for_every_loss(toys, loss, eager):
    """2500 rows in chunks of 1000: the chunks' sums over the batch's count are the one-pass step."""
    model, coords, gt = _siren_and_data()
    twin = copy.deepcopy(model)
    _same(_steps(model, coords, gt, loss, eager, n=3), _steps(twin, coords, gt, loss, eager, chunk=1000, n=3))


def _fit(save_dir, data, *extra):
    run_in_process("main.py", "--input_path", data, "--num_epochs", "20", "--log_epoch", "10", "--snap_epoch", "10",
                   "--save_dir", save_dir, *SMALL, *extra, check=True)
    folder = run_folder(save_dir)
    return folder, json.loads((folder / "results.json").read_text()), (folder / "log.txt").read_text()


def test_l1_on_siren_is_the_same_fit_with_and_without_eager_and_not_mse(tmp_path, div2k_64px):
    fused, res, log = _fit(tmp_path / "fused", div2k_64px["00"], "--loss", "l1", "--lr", "1e-3")
    _, eager, _ = _fit(tmp_path / "eager", div2k_64px["00"], "--loss", "l1", "--lr", "1e-3", "--eager")
    _, mse, _ = _fit(tmp_path / "mse", div2k_64px["00"], "--lr", "1e-3")
    psnr = {k: [r["samples"]["00"][e]["psnr"] for e in ("10", "20")] for k, r in (("l1", res), ("eager", eager),
                                                                                   ("mse", mse))}
    assert psnr["l1"] == pytest.approx(psnr["eager"], abs=0.01)
    assert abs(psnr["l1"][1] - psnr["mse"][1]) > 0.1  # measured: 0.26 dB apart at epoch 20
    assert "l1 loss" in log and "fused step" not in log
    assert res["loss"] == json.loads((fused / "args.json").read_text())["loss"] == "l1" and mse["loss"] == "mse"
    (ckpt,) = (fused / "ckpt").glob("ckpt_00_20_*.pth")
    assert torch.load(ckpt, weights_only=True)["args"]["loss"] == "l1"


def test_a_registered_loss_fits_without_touching_the_trainer(toys, tmp_path, capsys):
    """Two images: a loss without a gradient says once that SIREN's fused step steps aside; one with a
    gradient runs fused and gives the same fit."""
    data = image_folder(tmp_path / "data", ["00", "01"])
    runs = {}
    for loss in ("quartic_autograd", "quartic"):
        rc = main.main([str(a) for a in ["--input_path", data, "--loss", loss, "--num_epochs", "4", "--log_epoch",
                                         "2", "--save_dir", tmp_path / loss, *SMALL]])
        err = capsys.readouterr().err
        assert rc == 0, err
        runs[loss] = json.loads((run_folder(tmp_path / loss) / "results.json").read_text())
        aside = [line for line in err.splitlines() if "fused step" in line]
        assert len(aside) == (1 if loss == "quartic_autograd" else 0), aside
    assert runs["quartic"]["loss"] == "quartic"
    for name in ("00", "01"):
        assert runs["quartic"]["samples"][name]["4"]["psnr"] == pytest.approx(
            runs["quartic_autograd"]["samples"][name]["4"]["psnr"], abs=0.01)


def test_resume_keeps_the_loss_and_refuses_another(tiny_png, tmp_path):
    """A run without loss in args.json (written before the option) resumes as mse, to the uninterrupted
    run's numbers; --loss with --resume, or an unknown loss in args.json, is a one-line error."""
    folder, straight, _ = _fit(tmp_path / "log", tiny_png)
    (snap,) = (folder / "ckpt").glob("ckpt_00_10_*.pth")
    (folder / "ckpt" / "latest.json").write_text(json.dumps({"file": snap.name, "sample": "00", "epoch": 10}))
    (folder / "results.json").write_text(json.dumps({**straight, "complete": False}))
    one_line_error(run_in_process("main.py", "--resume", folder, "--loss", "l1"), "--loss")
    args = json.loads((folder / "args.json").read_text())
    (folder / "args.json").write_text(json.dumps({**args, "loss": "huber"}))
    one_line_error(run_in_process("main.py", "--resume", folder), "args.json", "loss")
    del args["loss"]
    (folder / "args.json").write_text(json.dumps(args))
    run_in_process("main.py", "--resume", folder, check=True)
    resumed = json.loads((folder / "results.json").read_text())
    assert resumed["loss"] == "mse" and resumed["samples"]["00"]["20"] == straight["samples"]["00"]["20"]


def test_a_checkpoint_of_another_loss_does_not_resume(tiny_png, tmp_path):
    folder, straight, _ = _fit(tmp_path / "log", tiny_png, "--loss", "l1")
    (snap,) = (folder / "ckpt").glob("ckpt_00_10_*.pth")
    (folder / "ckpt" / "latest.json").write_text(json.dumps({"file": snap.name, "sample": "00", "epoch": 10}))
    (folder / "results.json").write_text(json.dumps({**straight, "complete": False}))
    args = json.loads((folder / "args.json").read_text())
    (folder / "args.json").write_text(json.dumps({**args, "loss": "mse"}))
    one_line_error(run_in_process("main.py", "--resume", folder), "--loss l1")


def test_an_unknown_loss_is_a_one_line_error(tiny_png, tmp_path):
    one_line_error(run_in_process("main.py", "--input_path", tiny_png, "--loss", "huber", "--save_dir", tmp_path),
                   "--loss", "huber")
    assert not (tmp_path / "debug").exists()


def test_decode_says_the_loss(tiny_png, tmp_path, div2k_64px):
    """The published checkpoint (no loss) decodes as mse; an l1 run's checkpoints decode as l1."""
    run_in_process("main.py", "--eval_ckpt", VECTORS / "reference_ckpt" / "ckpt_00_1000.pth", "--input_path",
                   div2k_64px["00"], "--save_dir", tmp_path / "ref", "--trust_checkpoint", check=True)
    (result,) = (tmp_path / "ref").rglob("eval.json")
    assert json.loads(result.read_text())["loss"] == "mse"
    folder, _, _ = _fit(tmp_path / "log", tiny_png, "--loss", "l1")
    run_in_process("main.py", "--eval_ckpt", folder, "--input_path", tiny_png, "--save_dir", tmp_path / "out",
                   check=True)
    (results,) = (tmp_path / "out").rglob("results.json")
    assert json.loads(results.read_text())["loss"] == "l1"

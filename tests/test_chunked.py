"""The full-batch step in chunks of rows (--chunk_rows, --memory_gb): the same gradients, the same fit.

A chunked step runs forward and backward over chunks of rows, each adding its share of the gradient of
the batch's mean squared error, then makes the one Adam update: the full-batch step up to the order of
float summation (trainer/fast_step.py's Step). --chunk_rows auto (the default) chunks only when the
memory estimate of the full batch exceeds the budget (trainer/memory.py), and says so in one log line.
"""
import copy
import json

import pytest
import torch

import models
from opt import read_options
from tests.conftest import run_folder, run_in_process
from trainer import memory
from trainer.fast_step import Kernels, Step

MODEL_OPTS = dict(hidden_features=64, hidden_layers=3, first_omega=30.0, hidden_omega=30.0, scale=30.0, N_freqs=10,
                  first_bias_scale=None, scale_req_grad=False)
SMALL = ["--device", "cpu", "--quiet", "--no_images"]


def _step_outputs(model, coords, gt, eager, chunk, compiled=False):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 1.0)
    step = Step(model, optimizer, scheduler, lambda p: p, gt.max(), eager=eager,
                kernels=Kernels(compiled, log=lambda m: None), chunk=chunk)
    pred, loss = step.forward_backward(coords, gt)
    return pred.clone(), loss, [p.grad.clone() for p in model.parameters() if p.requires_grad]


@pytest.mark.parametrize("model_type,eager", [("siren", False), ("siren", True), ("finer", False), ("gauss", False),
                                              ("pemlp", False), ("wire", False)])
@pytest.mark.parametrize("in_f,out_f", [(2, 3), (1, 1), (3, 3)])  # image, audio, video
def test_chunked_gradients_equal_the_full_batch(model_type, eager, in_f, out_f):
    """2500 rows in chunks of 1000 (a remainder of 500): prediction, loss and every gradient equal the
    one-pass step's to float rounding."""
    torch.manual_seed(0)
    model = models.build_model({**MODEL_OPTS, "model_type": model_type}, in_f, out_f)
    twin = copy.deepcopy(model)
    coords, gt = torch.rand(2500, in_f) * 2 - 1, torch.rand(2500, out_f)
    pred, loss, grads = _step_outputs(model, coords, gt, eager, None)
    cpred, closs, cgrads = _step_outputs(twin, coords, gt, eager, 1000)
    assert torch.allclose(pred, cpred, atol=1e-6)
    assert abs(loss.item() - closs.item()) <= 1e-6 * loss.item()
    assert len(grads) == len(cgrads) == sum(p.requires_grad for p in model.parameters())
    for g, c in zip(grads, cgrads):
        assert torch.allclose(g, c, rtol=1e-4, atol=1e-5 * g.abs().max().item())


def test_chunked_fused_step_with_compiled_kernels():
    torch.manual_seed(1)
    model = models.build_model({**MODEL_OPTS, "model_type": "siren"}, 2, 3)
    twin = copy.deepcopy(model)
    coords, gt = torch.rand(2300, 2) * 2 - 1, torch.rand(2300, 3)
    _, loss, grads = _step_outputs(model, coords, gt, False, None, compiled=True)
    _, closs, cgrads = _step_outputs(twin, coords, gt, False, 700, compiled=True)
    assert abs(loss.item() - closs.item()) <= 1e-6 * loss.item()
    for g, c in zip(grads, cgrads):
        assert torch.allclose(g, c, rtol=1e-4, atol=1e-5 * g.abs().max().item())


def _fit(tmp_path, tag, *args):
    save = tmp_path / tag
    p = run_in_process("main.py", *args, "--save_dir", save, *SMALL, env={"OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    folder = run_folder(save)
    (samples,) = json.loads((folder / "results.json").read_text())["samples"].values()
    return samples, (folder / "log.txt").read_text()


def test_a_chunked_run_reads_back_and_resumes(tmp_path, div2k_64px):
    """args.json holds --chunk_rows as a count (or auto); the run-file reader takes both, so --resume of a
    chunked run gets past the door (here: the run had finished)."""
    _fit(tmp_path, "rows", "--input_path", div2k_64px["00"], "--num_epochs", "2", "--chunk_rows", "1000")
    folder = run_folder(tmp_path / "rows")
    assert read_options(str(folder))["chunk_rows"] == 1000
    p = run_in_process("main.py", "--resume", folder)
    assert p.returncode == 0 and "already finished" in p.stderr, p.stderr


def _memory_lines(log):
    return [line for line in log.splitlines() if "rows per chunk" in line]


@pytest.mark.parametrize("model_type,extra", [("siren", ()), ("siren", ("--eager",)), ("finer", ())])
def test_chunked_fit_follows_the_full_batch_fit(model_type, extra, tmp_path, div2k_64px):
    """DIV2K 00 at 64 x 64 (4096 rows), 40 epochs: chunks of 1000 rows (which do not divide 4096) against
    one pass (--chunk_rows 0): PSNR within 0.01 dB at every logged epoch."""
    common = ["--input_path", div2k_64px["00"], "--transform", "sym_power", "--model_type", model_type,
              "--num_epochs", "40", "--log_epoch", "2", *extra]
    full, full_log = _fit(tmp_path, "full", *common, "--chunk_rows", "0")
    chunked, log = _fit(tmp_path, "chunked", *common, "--chunk_rows", "1000")
    assert not _memory_lines(full_log)
    (line,) = _memory_lines(log)
    assert "1000 rows per chunk" in line and "5 chunks per step" in line
    assert list(full) == list(chunked) and len(full) == 20
    for epoch, m in full.items():
        assert abs(m["psnr"] - chunked[epoch]["psnr"]) < 0.01, (epoch, m["psnr"], chunked[epoch]["psnr"])


def test_auto_chunks_under_a_small_budget_and_says_so_once(tmp_path, div2k_64px):
    """--memory_gb below what the process already holds: the step is chunked (the smallest chunk), one
    log line says so, and the fit runs to its end."""
    samples, log = _fit(tmp_path, "auto", "--input_path", div2k_64px["00"], "--num_epochs", "4", "--log_epoch", "2",
                        "--memory_gb", "0.05")
    (line,) = _memory_lines(log)
    assert "--memory_gb 0.05" in line and f"{memory.MIN_CHUNK} rows per chunk" in line and "4 chunks per step" in line
    assert list(samples) == ["2", "4"] and samples["4"]["psnr"] is not None


def test_auto_keeps_the_full_batch_when_it_fits(tmp_path, div2k_64px):
    _, log = _fit(tmp_path, "fits", "--input_path", div2k_64px["00"], "--num_epochs", "2", "--memory_gb", "64")
    assert not _memory_lines(log)


def test_plan_fits_the_budget(monkeypatch):
    """The planned chunk is the largest multiple of ALIGN rows whose estimate stays within the budget."""
    monkeypatch.setattr(memory, "resident_bytes", lambda device: 0.5e9)
    args = dict(batch=2040 * 1356, values=3 * 2040 * 1356, channels=3, in_features=2, model_type="siren", fused=True,
                width=256, hidden_layers=3, device=torch.device("cpu"))
    p = memory.plan(**args, memory_gb=2)
    assert p.chunk % memory.ALIGN == 0 and p.chunks == -(-args["batch"] // p.chunk)
    assert p.peak <= p.budget == 2e9 < p.full
    bigger = memory.estimate(p.chunk + memory.ALIGN, args["batch"], args["values"], 3, 2, "siren", True, 256, 3, 0.5e9)
    assert bigger > p.budget
    assert memory.plan(**args, memory_gb=100).chunk is None


def test_chunked_video_and_audio(tmp_path):
    """The video's random batch (4096 of 55296 rows) and an audio signal (8000 rows), each in chunks of 1000:
    the chunked fit follows the one-pass fit."""
    for tag, args in [("video", ["--signal_type", "video", "--input_path", "builtin:astronaut_pan"]),
                      ("audio", ["--signal_type", "audio", "--input_path", "builtin:chirp", "--audio_seconds", "0.5"])]:
        common = [*args, "--num_epochs", "6", "--log_epoch", "2", "--hidden_features", "64"]
        full, _ = _fit(tmp_path, f"{tag}_full", *common, "--chunk_rows", "0")
        chunked, log = _fit(tmp_path, f"{tag}_chunked", *common, "--chunk_rows", "1000")
        (line,) = _memory_lines(log)
        assert "1000 rows per chunk" in line
        for epoch, m in full.items():
            assert abs(m["psnr"] - chunked[epoch]["psnr"]) < 0.01, (tag, epoch, m["psnr"], chunked[epoch]["psnr"])


def test_chunk_rows_must_be_auto_or_a_count(tmp_path):
    for bad in ("-1", "lots"):
        p = run_in_process("main.py", "--input_path", "x.png", "--chunk_rows", bad, "--save_dir", tmp_path)
        assert p.returncode == 2 and "--chunk_rows" in p.stderr and "Traceback" not in p.stderr
    p = run_in_process("main.py", "--input_path", "x.png", "--memory_gb", "0", "--save_dir", tmp_path)
    assert p.returncode == 2 and "--memory_gb" in p.stderr and "Traceback" not in p.stderr

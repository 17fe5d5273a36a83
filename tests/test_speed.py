"""The fused training step gives the autograd step's gradients (its fits: tests/test_backbones.py holds
SIREN's default step to the published vectors within 0.01 dB for 200 epochs)."""
import copy

import imageio.v2 as imageio
import pytest
import torch
import torch.nn.functional as F

import models
from tests.conftest import run_folder, run_in_process, smooth_image
from trainer import fast_step
from trainer.fast_step import FusedSiren, Kernels


def _check_against_autograd(fused_for, in_f=2, out_f=3, layers=3, rows=500, device="cpu"):
    torch.manual_seed(0)
    model = models.Siren(in_f, out_f, hidden_features=64, hidden_layers=layers).to(device)
    twin = copy.deepcopy(model)
    coords = (torch.rand(rows, in_f) * 2 - 1).to(device)
    gt = (torch.rand(rows, out_f) * 2 - 1).to(device)
    pred, loss = fused_for(model)(coords, gt)
    ref_pred = twin(coords)
    ref_loss = F.mse_loss(ref_pred, gt)
    ref_loss.backward()
    assert torch.allclose(pred, ref_pred.detach(), atol=1e-6) and abs(float(loss) - float(ref_loss.detach())) < 1e-7
    for (name, p), q in zip(model.named_parameters(), twin.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-5 * q.grad.abs().max().item()), name


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("in_f,out_f,layers", [(2, 3, 3), (1, 1, 1), (3, 3, 2)])  # image, audio, video shapes
def test_fused_gradients_equal_autograd(compiled, in_f, out_f, layers):
    _check_against_autograd(lambda model: FusedSiren(model, Kernels(compiled, log=lambda m: None)), in_f, out_f, layers)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
@pytest.mark.parametrize("rows", [262144, 262144 + 77, 700])  # blocks of SPLIT_ROWS rows, a remainder, fewer rows
def test_fused_gradients_equal_autograd_on_gpu(rows):
    torch.backends.cuda.matmul.allow_tf32 = False
    _check_against_autograd(lambda model: FusedSiren(model, Kernels(True, log=lambda m: None)), rows=rows, device="cuda")


def test_one_compilation_serves_every_size():
    """A folder of images of many sizes: more than dynamo's recompile limit (8) must not fall back to eager."""
    lines = []
    kernels = Kernels(True, log=lines.append)  # one for all samples, as a trainer keeps it
    for rows in range(100, 1300, 100):
        _check_against_autograd(lambda model: FusedSiren(model, kernels), rows=rows)
    assert not [line for line in lines if line.startswith("warning")], lines


def test_compile_failure_falls_back_to_eager_with_one_warning(monkeypatch):
    def no_compiler(fn, **kwargs):
        def fail(*tensors):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")
        return fail

    monkeypatch.setattr(fast_step.torch, "compile", no_compiler)
    lines = []
    kernels = Kernels(True, log=lines.append)
    for rows in (500, 400):  # two samples of a run share the kernels: one warning in all
        _check_against_autograd(lambda model: FusedSiren(model, kernels), rows=rows)
    warnings = [line for line in lines if line.startswith("warning")]  # (the other line: "compiling ...")
    assert len(warnings) == 1 and warnings[0].startswith("warning: torch.compile unavailable (RuntimeError: InvalidCxx")
    assert len(lines) == 2 and lines[0].startswith("compiling"), lines


def test_a_fit_compiles_where_the_compiled_passes_save_more_than_compiling_costs():
    table1 = dict(epochs=5000, rows=512 * 512, width=256, layers=3, samples=16)  # Table 1 on a CPU: compiles
    assert fast_step.compiles("cpu", **table1) and fast_step.compiles("cuda:0", **table1)
    small = dict(epochs=150, rows=64 * 64, width=64, layers=3, samples=1)  # 1.2e8 passes: eager is sooner
    assert not fast_step.compiles("cpu", **small) and fast_step.compiles("cuda", **small)
    # one compilation serves the run's samples: a folder of 20 such images compiles
    assert fast_step.compiles("cpu", **dict(small, samples=20))
    assert not fast_step.compiles("cuda", **dict(table1, epochs=fast_step.COMPILE_MIN_EPOCHS - 1))



def test_a_small_cpu_fit_trains_with_eager_kernels(tmp_path):
    # 60 epochs (compiled before: 50 or more) of a 16x16 image: far below COMPILE_MIN_PASSES, so nothing compiles
    imageio.imwrite(tmp_path / "a.png", smooth_image(16, 16))
    run_in_process("main.py", "--input_path", tmp_path / "a.png", "--num_epochs", "60", "--log_epoch", "60",
                   "--hidden_features", "32", "--device", "cpu", "--no_images", "--quiet", "--save_dir", tmp_path / "o",
                   check=True)
    log = (run_folder(tmp_path / "o") / "log.txt").read_text()
    assert "epoch 60/60" in log and "compil" not in log.replace("(the first step compiles, if it does)", "")

"""Every backbone trains as the published code does: bit for bit against its loop, and against its vectors.

The published loop is restated plainly below (model, default Adam, LambdaLR, MSE, PSNR of the
clamped inverse before the update). main.py must give the same PSNR at every epoch: the Gauss and
WIRE fits are chaotic, so any rounding difference in the step (another Adam kernel, a target one
ulp off) shows within a few epochs. backbones_64px.json holds what the published code logged on
DIV2K 00 at 64x64; those runs were made on another CPU, and the chaotic fits (Gauss, WIRE, PE-MLP
after ~50 epochs) depend on the CPU's kernels, so only the machine-independent part is compared to
them exactly (docs/fidelity.md, "Backbones").
"""
import json
import shutil

import imageio.v2 as imageio
import pytest
import torch
import torch.nn.functional as F

import models
from components import transform as T
from opt import row_options
from tests.conftest import VECTORS, load_json, run_folder, run_in_process, smooth_image
from util.io import read_image

MODEL_OPTS = dict(hidden_features=256, hidden_layers=3, first_omega=30.0, hidden_omega=30.0, scale=30.0,
                  N_freqs=10, first_bias_scale=None, scale_req_grad=False)


def published_loop(path, model_type, num_epochs, seed=3407):
    """PSNR per epoch of the published image loop (its trainer/img_trainer.py, stated plainly), 1 thread."""
    data, nominal = read_image(str(path))
    tf = T.build(row_options("sym_power"), nominal.levels, nominal.lo).fit(data)
    c, h, w = data.shape
    gt = tf.forward(data).permute(1, 2, 0).reshape(-1, c)
    coords = torch.stack(torch.meshgrid([torch.linspace(-1, 1, h), torch.linspace(-1, 1, w)], indexing="ij"),
                         dim=-1).reshape(-1, 2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        model = models.build_model({**MODEL_OPTS, "model_type": model_type}, 2, c)
        optimizer = torch.optim.Adam(lr=models.backbone_defaults(model_type)["lr"], params=model.parameters())
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 0.1 ** min(it / num_epochs, 1))
        psnr = {}
        for epoch in range(1, num_epochs + 1):
            pred = model(coords)
            with torch.no_grad():  # the published PSNR, in float64 as main.py records it
                recon = torch.clamp(tf.inverse(pred.reshape(h, w, c).permute(2, 0, 1)), 0, 255).double()
                psnr[str(epoch)] = float(20 * torch.log10(data.max() / torch.sqrt(F.mse_loss(recon, data.double()))))
            loss = F.mse_loss(pred, gt)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    finally:
        torch.set_num_threads(threads)
    return psnr


def main_psnr(tmp_path, image, model_type, num_epochs, *extra):
    save = tmp_path / f"log_{model_type}"
    run_in_process("main.py", "--input_path", image, "--transform", "sym_power", "--model_type", model_type,
           "--num_epochs", num_epochs, "--log_epoch", 1, "--save_dir", save, "--device", "cpu", "--quiet",
           "--no_images", *extra, env={"OMP_NUM_THREADS": "1"}, check=True)
    res = json.loads((run_folder(save) / "results.json").read_text())
    (samples,) = res["samples"].values()
    return {e: m["psnr"] for e, m in samples.items()}


@pytest.mark.parametrize("model_type", list(models.MODELS))
def test_autograd_step_is_the_published_loop(model_type, tmp_path):
    """20 epochs on a 16x16 picture: main.py's PSNR equals the plain published loop's at every epoch.
    (SIREN with --eager: its default fused step rounds differently, tested in test_speed.py.)"""
    image = tmp_path / "00.png"
    imageio.imwrite(image, smooth_image(16, 16, seed=3))
    extra = ("--eager",) if model_type == "siren" else ()
    ours = main_psnr(tmp_path, image, model_type, 20, *extra)
    theirs = published_loop(image, model_type, 20)
    assert list(ours) == list(theirs)
    for epoch, value in theirs.items():
        assert abs(ours[epoch] - value) < 1e-9, (model_type, epoch, ours[epoch], value)


def test_sym_power_gamma_is_the_published_float32_value(div2k_64px):
    """The published run logged gamma 0.7100047469139099 (image 00) and 0.5490910410881042 (image 01) at
    64x64; one float32 ulp off (torch's log instead of numpy's) already changes a Gauss fit."""
    expected = {"00": 0.7100047469139099, "01": 0.5490910410881042}
    for name, gamma in expected.items():
        data, nominal = read_image(str(div2k_64px[name]))
        assert T.build(row_options("sym_power"), nominal.levels).fit(data).params["gamma"] == gamma


@pytest.mark.parametrize("model_type", ["gauss", "wire"])
def test_first_update_matches_published_vectors(model_type, tmp_path, div2k_64px):
    """Epochs 1 and 2 (the initialisation, then one Adam step at the full learning rate): these do not
    depend on the schedule's length, so a 2-epoch run gives them. (The other backbones: 200 epochs.)"""
    vectors = load_json(VECTORS / "backbones_64px.json")["psnr"][model_type]
    image = div2k_64px["00"]
    ours = main_psnr(tmp_path, image, model_type, 2)
    for epoch in ("1", "2"):
        assert abs(ours[epoch] - vectors[epoch]) < 0.01, (model_type, epoch, ours[epoch], vectors[epoch])


# 200-epoch protocol: SIREN (fused step) and FINER hold 0.01 dB at every listed epoch; PE-MLP's fit
# drifts with the CPU's kernels after ~50 epochs (the published loop itself gives 28.366 here
# against the vectors' 28.392), so it is held to 0.05 dB. Gauss and WIRE: docs/fidelity.md, "Backbones".
TOLERANCE_200 = {"siren": 0.01, "finer": 0.01, "pemlp": 0.05}


@pytest.mark.parametrize("model_type", list(TOLERANCE_200))
def test_200_epochs_match_published_vectors(model_type, tmp_path, div2k_64px):
    vectors = load_json(VECTORS / "backbones_64px.json")["psnr"][model_type]
    image = div2k_64px["00"]
    ours = main_psnr(tmp_path, image, model_type, 200)
    for epoch, value in vectors.items():
        tol = 0.01 if int(epoch) <= 10 else TOLERANCE_200[model_type]
        assert abs(ours[epoch] - value) < tol, (model_type, epoch, ours[epoch], value)


def test_wire_fits_saves_resumes_and_decodes(tmp_path):
    """WIRE's complex parameters through Adam, a weights_only checkpoint, --resume and --eval_ckpt."""
    image = tmp_path / "wire.png"
    imageio.imwrite(image, smooth_image(12, 12, seed=5))
    common = ["--input_path", image, "--model_type", "wire", "--num_epochs", 30, "--log_epoch", 10,
              "--snap_epoch", 10, "--device", "cpu", "--quiet", "--no_images"]
    run_in_process("main.py", *common, "--save_dir", tmp_path / "full", check=True)
    full = run_folder(tmp_path / "full")
    whole = json.loads((full / "results.json").read_text())["samples"]["wire"]
    final = next(full.glob("ckpt/ckpt_wire_30_*.pth"))
    state = torch.load(final, weights_only=True)
    assert any(t.is_complex() for t in state["model"].values())

    # The folder as a run killed after its epoch-20 snapshot leaves it, then resumed.
    cut = tmp_path / "cut" / full.name
    shutil.copytree(full, cut)
    final_copy = next(cut.glob("ckpt/ckpt_wire_30_*.pth"))
    final_copy.unlink()
    snap = next(cut.glob("ckpt/ckpt_wire_20_*.pth"))
    (cut / "ckpt" / "latest.json").write_text(json.dumps({"file": snap.name, "sample": "wire", "epoch": 20}))
    res = json.loads((cut / "results.json").read_text())
    (cut / "results.json").write_text(json.dumps({**res, "complete": False}))
    run_in_process("main.py", "--resume", cut, "--quiet", check=True)
    resumed = json.loads((cut / "results.json").read_text())["samples"]["wire"]
    assert resumed["30"]["psnr"] == pytest.approx(whole["30"]["psnr"], abs=0.05)

    decoded = json.loads(run_in_process("main.py", "--eval_ckpt", final, "--input_path", image, "--save_dir",
                                tmp_path / "eval", check=True).stdout)
    assert decoded["psnr"] > whole["30"]["psnr"] - 1

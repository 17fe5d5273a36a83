"""Metrics against metric_vectors.json, and the null / LPIPS rules."""
import json
import os

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from components import metrics as M
from tests.conftest import VECTORS, dataset, load_json, run_in_process, write_png


def _perturbed(gt):
    idx = torch.arange(gt.numel()).reshape(gt.shape)
    return torch.clamp(gt + ((idx * 7919) % 31 - 15), 0, 255)


@pytest.mark.parametrize("image", ["div2k/test_data/00.png", "div2k/test_data/05.png"])
def test_cli_matches_metric_vectors(image, tmp_path):
    vec = load_json(VECTORS / "metric_vectors.json")["images"][image]
    ref = dataset(image)
    gt = torch.from_numpy(imageio.imread(ref).astype(np.float32)).permute(2, 0, 1)
    test = tmp_path / "pred.png"
    imageio.imwrite(test, _perturbed(gt).permute(1, 2, 0).numpy().astype(np.uint8))
    out = json.loads(run_in_process("-m", "components.metrics", ref, test, check=True).stdout)
    assert set(out) == {"psnr", "ssim", "ssim_ref", "lpips"} and out["lpips"] is None
    assert abs(out["psnr"] - vec["reference_psnr"]) < 1e-4
    assert abs(out["ssim_ref"] - vec["reference_ssim"]) < 1e-4
    assert abs(out["ssim"] - vec["skimage_ssim_gaussian"]) < 1e-4


def test_perfect_reconstruction_psnr_is_null_in_json(tmp_path):
    img = tmp_path / "a.png"
    imageio.imwrite(img, (np.arange(32 * 32 * 3) % 256).reshape(32, 32, 3).astype(np.uint8))
    p = run_in_process("-m", "components.metrics", img, img, check=True)
    out = json.loads(p.stdout)
    assert out["psnr"] is None and "Infinity" not in p.stdout and out["ssim"] == pytest.approx(1.0)


def test_small_images_have_null_ssim_but_ssim_ref():
    a = torch.rand(3, 8, 8) * 255
    b = a + 1
    assert M.ssim(b, a) is None
    assert M.ssim_ref(b, a) is not None
    assert M.psnr(b, a) == pytest.approx(20 * np.log10(a.max().item()), abs=1e-3)


def test_lpips_plumbing_with_random_backbone():
    lp = M.Lpips(pnet_rand=True)  # shipped linear layers, random AlexNet: no download
    assert lp.available
    a = torch.rand(3, 64, 64) * 255
    same, other = lp(a, a), lp(torch.flip(a, dims=[2]), a)
    assert same == pytest.approx(0.0, abs=1e-6) and other > same
    assert lp(a[:1], a[:1]) is None  # LPIPS needs RGB


def test_lpips_without_weights_warns_once_and_gives_null(capsys):
    cache = os.path.join(torch.hub.get_dir(), "checkpoints", M.Lpips.WEIGHTS)
    if os.path.exists(cache):
        pytest.skip("AlexNet weights are cached on this machine")
    lp = M.Lpips()
    err = capsys.readouterr().err
    assert not lp.available and err.count("warning: LPIPS disabled") == 1 and M.Lpips.WEIGHTS in err
    assert lp(torch.rand(3, 32, 32), torch.rand(3, 32, 32)) is None


def test_audio_metrics_textbook_si_snr():
    t = torch.linspace(0, 1, 1000)
    s = torch.sin(40 * t)
    noise = 0.1 * torch.cos(333 * t)
    m = M.audio_metrics(s + noise, s)
    assert m["snr"] == pytest.approx(10 * np.log10((s ** 2).sum().item() / (noise ** 2).sum().item()), rel=1e-5)
    # scale invariance: SI-SNR of 3 * estimate equals that of the estimate
    assert M.audio_metrics(3 * (s + noise), s)["si_snr"] == pytest.approx(m["si_snr"], rel=1e-6)
    assert M.audio_metrics(s, s)["snr"] is None


def test_null_psnr_tells_identical_from_no_signal(tmp_path):
    """A black reference against a white test has no peak to take a ratio of: "no signal", not "identical"."""
    black = write_png(tmp_path / "black.png", np.zeros((16, 16, 3), np.uint8))
    white = write_png(tmp_path / "white.png", np.full((16, 16, 3), 255, np.uint8))
    p = run_in_process("-m", "components.metrics", black, white, check=True)
    out = json.loads(p.stdout)
    assert out["psnr"] is None and out["psnr_null"] == "no signal" and "no signal" in p.stderr
    out = json.loads(run_in_process("-m", "components.metrics", black, black, check=True).stdout)
    assert out["psnr"] is None and out["psnr_null"] == "identical"
    out = json.loads(run_in_process("-m", "components.metrics", white, black, check=True).stdout)
    assert out["psnr"] == 0.0 and "psnr_null" not in out


def test_two_bit_depths_are_compared_in_the_references_units(tmp_path):
    """The same picture stored 8- and 16-bit is identical; a 16-bit test scores as its 8-bit copy does."""
    a = (np.random.default_rng(0).random((24, 24, 3)) * 255).astype(np.uint8)
    b = np.clip(a.astype(int) + 3, 0, 255).astype(np.uint8)
    files = {n: write_png(tmp_path / f"{n}.png", arr) for n, arr in
             (("a8", a), ("a16", a.astype(np.uint16) * 257), ("b8", b), ("b16", b.astype(np.uint16) * 257))}

    def metrics(ref, test):
        p = run_in_process("-m", "components.metrics", files[ref], files[test], check=True)
        return json.loads(p.stdout), p.stderr

    for ref, test in (("a8", "a16"), ("a16", "a8")):
        out, err = metrics(ref, test)
        assert out["psnr_null"] == "identical" and out["ssim"] == pytest.approx(1.0)
        assert "compared in the reference's units" in err
    same, _ = metrics("a8", "b8")
    for ref, test in (("a8", "b16"), ("a16", "b16"), ("a16", "b8")):
        out, _ = metrics(ref, test)
        assert out["psnr"] == pytest.approx(same["psnr"], abs=1e-9) and out["ssim"] == pytest.approx(same["ssim"], abs=1e-9)


def test_a_folder_is_named_a_folder_by_the_metrics_tool_and_the_summariser(tmp_path):
    """A folder where an image belongs, and a file where a log folder belongs: one line that says which it
    is (they read "no such file" / "no such folder", as if nothing were there)."""
    from tests.conftest import one_line_error, run_py

    line = one_line_error(run_py("-m", "components.metrics", tmp_path, tmp_path), tmp_path)  # its exit code: __main__
    assert "folder" in line and "no such" not in line
    note = tmp_path / "notes.txt"
    note.write_text("x")
    line = one_line_error(run_in_process("summarize.py", note), note)
    assert "a file" in line and "no such" not in line

"""main.py end to end on images: run folder, results.json, checkpoints, decoding, reproduction."""
import json

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from tests.conftest import VECTORS, load_json, one_line_error, run_folder, run_in_process, smooth_image, write_png
from util.io import read_image

METRICS = {"psnr", "ssim", "ssim_ref", "mse", "lpips"}


def test_run_folder_layout_and_results(tiny_png, fast_args, tmp_path):
    run_in_process("main.py", "--input_path", tiny_png, "--transform", "sym_power", "--tag", "t", "--up_folder_name", "u",
           *fast_args, check=True)
    folder = run_folder(tmp_path / "log")
    assert folder.parent.name == "u" and folder.name.startswith("t_")
    names = {p.name for p in folder.iterdir()}
    assert {"args.json", "log.txt", "res_table.md", "results.json", "final_pred", "ckpt"} <= names
    assert any(n.startswith("events.out.tfevents") for n in names)
    assert (folder / "final_pred" / "00.png").is_file()
    res = json.loads((folder / "results.json").read_text())
    assert set(res["samples"]["00"]) == {"10", "20"} and set(res["samples"]["00"]["20"]) == METRICS
    assert res["samples"]["00"]["20"]["lpips"] is None and res["complete"] is True
    assert set(res["mean"]["20"]) == METRICS and res["time_s"] > 0
    assert set(res["attributes"]) == {"std", "skew", "range"}
    assert "| mean |" in (folder / "res_table.md").read_text()
    ckpts = list((folder / "ckpt").glob("ckpt_00_20_*.pth"))
    assert len(ckpts) == 1
    state = torch.load(ckpts[0], weights_only=True)  # tensors and plain types only
    assert state["transform"]["name"] == "sym_power" and state["signal"]["shape"] == [3, 16, 16]
    assert isinstance(state["args"], dict)


def test_eval_ckpt_rebuilds_from_checkpoint_alone(tiny_png, fast_args, tmp_path):
    run_in_process("main.py", "--input_path", tiny_png, "--transform", "box_cox", *fast_args, check=True)
    ckpt = next(run_folder(tmp_path / "log").glob("ckpt/*.pth"))
    out = tmp_path / "eval"
    p = run_in_process("main.py", "--eval_ckpt", ckpt, "--save_dir", out, check=True)
    assert p.stdout == ""  # no --input_path: no metrics line
    pngs = list(out.rglob("final_pred/00.png"))
    assert len(pngs) == 1 and imageio.imread(pngs[0]).shape == (16, 16, 3)
    p = run_in_process("main.py", "--eval_ckpt", ckpt, "--save_dir", out, "--input_path", tiny_png, check=True)
    metrics = json.loads(p.stdout)
    assert set(metrics) == METRICS and metrics["psnr"] > 10


@pytest.mark.parametrize("kind", ["gray", "rgba", "16bit"])
def test_channel_layouts_and_bit_depths(kind, tmp_path, fast_args):
    img = {"gray": smooth_image(16, 16, c=1), "rgba": smooth_image(16, 16, c=4),
           "16bit": smooth_image(16, 16, c=3, dtype=np.uint16)}[kind]
    path = write_png(tmp_path / f"{kind}.png", img)
    run_in_process("main.py", "--input_path", path, "--transform", "sym_power", *fast_args, check=True)
    folder = run_folder(tmp_path / "log")
    out = read_image(str(folder / "final_pred" / f"{kind}.png"))[0].permute(1, 2, 0).squeeze(-1).numpy()
    assert out.shape == img.shape and out.max() > (300 if kind == "16bit" else 100)
    res = json.loads((folder / "results.json").read_text())
    assert res["samples"][kind]["20"]["psnr"] > 5
    state = torch.load(next(folder.glob("ckpt/*.pth")), weights_only=True)
    assert state["signal"]["nominal"]["levels"] == (65536 if kind == "16bit" else 256)


def test_folder_with_non_numeric_names_is_naturally_sorted(tmp_path, fast_args):
    data = tmp_path / "imgs"
    data.mkdir()
    for name in ("img_10.png", "img_2.png", "b.png"):
        imageio.imwrite(data / name, smooth_image(12, 12, seed=len(name)))
    (data / "notes.txt").write_text("not an image")
    p = run_in_process("main.py", "--input_path", data, "--multi_data", *fast_args, check=True)
    assert "notes.txt" in p.stderr or "1 file" in p.stderr  # says what it skipped
    res = json.loads((run_folder(tmp_path / "log") / "results.json").read_text())
    assert list(res["samples"]) == ["b", "img_2", "img_10"]


REFERENCE_CKPT = VECTORS / "reference_ckpt" / "ckpt_00_1000.pth"


def test_reference_checkpoint_needs_trust(tmp_path):
    p = run_in_process("main.py", "--eval_ckpt", REFERENCE_CKPT, "--save_dir", tmp_path)
    one_line_error(p, "--trust_checkpoint")  # names the option that would let it load
    assert len(p.stderr.strip().splitlines()) == 1


def test_reference_checkpoint_decodes_to_expected(tmp_path, div2k_64px):
    expected = load_json(VECTORS / "reference_ckpt" / "expected.json")["expected_when_decoded"]
    ckpt, img = REFERENCE_CKPT, div2k_64px["00"]
    p = run_in_process("main.py", "--eval_ckpt", ckpt, "--input_path", img, "--save_dir", tmp_path, "--trust_checkpoint",
               check=True)
    metrics = json.loads(p.stdout)
    assert abs(metrics["psnr"] - expected["psnr"]) < 0.01
    assert abs(metrics["ssim_ref"] - expected["ssim_ref"]) < 1e-4


@pytest.mark.parametrize("row", ["rpp", "inverse"])
def test_data_changing_rows_decode_to_the_image_itself(row, tiny_png, fast_args, tmp_path):
    """Metrics are on the permuted / inverted data (as the reference); saved pictures are the image."""
    run_in_process("main.py", "--input_path", tiny_png, f"--{row}", *fast_args, check=True)
    folder = run_folder(tmp_path / "log")
    ckpt = next(folder.glob("ckpt/*.pth"))
    decoded = json.loads(run_in_process("main.py", "--eval_ckpt", ckpt, "--input_path", tiny_png, "--save_dir",
                                tmp_path / "eval", check=True).stdout)
    from components.metrics import psnr

    saved = read_image(str(folder / "final_pred" / "00.png"))[0]
    original = read_image(str(tiny_png))[0]
    if row == "inverse":
        assert abs(psnr(255 - saved, 255 - original) - decoded["psnr"]) < 0.2
    else:
        assert abs(psnr(saved, original) - decoded["psnr"]) < 0.2


def test_names_inside_a_checkpoint_never_become_paths(tiny_png, fast_args, tmp_path):
    """A crafted checkpoint of this project's format whose sample name climbs out of --save_dir."""
    run_in_process("main.py", "--input_path", tiny_png, *fast_args, check=True)
    state = torch.load(next(run_folder(tmp_path / "log").glob("ckpt/*.pth")), weights_only=True)
    state["sample"] = "../../../../x/escaped"
    crafted = tmp_path / "crafted.pth"
    torch.save(state, crafted)
    out = tmp_path / "deep" / "out"
    before = {p for p in tmp_path.rglob("*")}
    run_in_process("main.py", "--eval_ckpt", crafted, "--save_dir", out, check=True)
    created = {p for p in tmp_path.rglob("*")} - before - {crafted, out, out.parent}  # --save_dir itself
    assert created and all(out in p.parents for p in created), sorted(created)
    assert list(out.rglob("final_pred/*.png"))

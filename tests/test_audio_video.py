"""Audio and video trainers end to end on small inputs; audio transforms; chunked evaluation."""
import json

import numpy as np
import pytest
import soundfile as sf
import torch

from components import transform as T
from config import AUDIO_ROWS
from opt import row_options
from tests.conftest import dataset, image_folder, run_folder, run_in_process
from components.signals import chirp, read_audio
from util.io import Nominal

SMALL = ["--hidden_features", "32", "--hidden_layers", "1", "--quiet", "--device", "cpu"]


def _fit_audio(path, tmp_path, *extra):
    run_in_process("main.py", "--signal_type", "audio", "--input_path", path, "--audio_seconds", "0.5", "--num_epochs", "20",
           "--log_epoch", "10", "--save_dir", tmp_path / "log", *SMALL, *extra, check=True)
    return run_folder(tmp_path / "log")


@pytest.mark.parametrize("transform", ["min_max", "sym_power"])
def test_librispeech_clip(tmp_path, transform):
    clip = dataset("libri_test_clean_121726/00.flac")
    folder = _fit_audio(clip, tmp_path, "--transform", transform)
    res = json.loads((folder / "results.json").read_text())
    last = res["samples"]["00"]["20"]
    assert {"mse", "snr", "si_snr", "psnr"} <= set(last) and all(isinstance(last[k], float) for k in last)
    wav, rate = sf.read(folder / "final_pred" / "00.wav")
    assert rate == 16000 and wav.shape[0] == 8000


@pytest.mark.parametrize("kind", ["stereo", "44k", "8bit", "silent"])
def test_audio_formats(tmp_path, kind):
    t = np.arange(int(0.3 * {"44k": 44100}.get(kind, 16000))) / {"44k": 44100}.get(kind, 16000)
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    data, rate, subtype = {"stereo": (np.stack([tone, -tone], 1), 16000, "PCM_16"), "44k": (tone, 44100, "PCM_16"),
                           "8bit": (tone, 16000, "PCM_U8"), "silent": (0 * tone, 16000, "PCM_16")}[kind]
    path = tmp_path / f"{kind}.wav"
    sf.write(path, data, rate, subtype=subtype)
    folder = _fit_audio(path, tmp_path, "--transform", "sym_power")
    text = (folder / "results.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    wav, out_rate = sf.read(folder / "final_pred" / f"{kind}.wav", always_2d=True)
    assert out_rate == 16000 and wav.shape == (int(round(0.3 * 16000)), 2 if kind == "stereo" else 1)
    if kind == "44k":
        assert "resampled from 44100 Hz" in (folder / "log.txt").read_text()
    if kind == "silent":
        assert json.loads(text)["samples"]["silent"]["20"]["snr"] is None


def test_audio_round_trips_every_row():
    wave = torch.from_numpy(chirp(0.25).T.astype(np.float32).copy())
    nominal = Nominal.signal()
    for row in AUDIO_ROWS:
        opts = row_options(row)
        tf = T.build(opts, nominal.levels, nominal.lo).fit(wave)
        back = tf.inverse(tf.forward(wave).float())
        assert (back - wave).abs().max() < 1e-4, row


def test_builtin_chirp_reads_without_files():
    data, name = read_audio("builtin:chirp", 0.5)
    assert name == "chirp" and data.shape == (1, 8000) and data.abs().max() <= 1


def _frames(tmp_path, count, side):
    """A folder of `count` side x side frames, as a video for --signal_type video."""
    return image_folder(tmp_path / "clip", [f"f{i}" for i in range(count)], side)


def test_video_folder_of_frames(tmp_path):
    frames = _frames(tmp_path, 4, 16)
    run_in_process("main.py", "--signal_type", "video", "--input_path", frames, "--num_epochs", "20", "--log_epoch", "10",
           "--batch_size", "256", "--save_dir", tmp_path / "log", *SMALL, check=True)
    folder = run_folder(tmp_path / "log")
    res = json.loads((folder / "results.json").read_text())["samples"]["clip"]["20"]
    assert len(res["psnr_frames"]) == 4 and res["psnr"] is not None and res["ssim_ref"] is not None
    assert len(list((folder / "final_pred" / "clip").glob("frame_*.png"))) == 4
    assert "| mean |" in (folder / "res_table.md").read_text()


def test_chunked_evaluation_equals_full():
    import models
    from trainer.loop import grid_coords, predict

    torch.manual_seed(0)
    model = models.Siren(3, 3, hidden_features=32, hidden_layers=2)
    coords = grid_coords((5, 12, 12))
    chunked = predict(model, coords, chunk=100)
    assert chunked.shape == (720, 3) and torch.allclose(chunked, predict(model, coords), atol=1e-6)


def test_builtin_video_runs(tmp_path):
    run_in_process("main.py", "--signal_type", "video", "--input_path", "builtin:astronaut_pan", "--num_epochs", "4",
           "--log_epoch", "2", "--save_dir", tmp_path / "log", *SMALL, check=True)
    res = json.loads((run_folder(tmp_path / "log") / "results.json").read_text())
    assert len(res["samples"]["astronaut_pan"]["4"]["psnr_frames"]) == 24


def test_audio_trains_as_sirens_audio_template(tmp_path):
    """Audio fits start from SIREN's audio setting (first omega 3000): main.py's loss per epoch equals a
    plain loop over Siren(1, 1, first_omega=3000) on the chirp, to float rounding."""
    import models
    from components import transform as T
    from components.signals import read_audio

    folder = _fit_audio("builtin:chirp", tmp_path, "--audio_seconds", "0.05", "--num_epochs", "6", "--log_epoch",
                        "1", "--eager", "--hidden_features", "32", "--hidden_layers", "1")
    ours = json.loads((folder / "results.json").read_text())["samples"]["chirp"]
    wave, _ = read_audio("builtin:chirp", 0.05)
    tf = T.build(row_options(), 2.0, -1.0).fit(wave)
    gt = tf.forward(wave).T
    coords = torch.linspace(-1, 1, wave.shape[1])[:, None]
    torch.manual_seed(3407)
    model = models.Siren(1, 1, hidden_features=32, hidden_layers=1, first_omega=3000.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 0.1 ** min(it / 6, 1))
    for epoch in range(1, 7):
        loss = torch.nn.functional.mse_loss(model(coords), gt)
        assert ours[str(epoch)]["mse"] == pytest.approx(loss.item(), rel=1e-6), epoch
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()

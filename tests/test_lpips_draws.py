"""The LPIPS network draws what the published code draws, with or without AlexNet's weights.

The published image trainer builds lpips.LPIPS (torchvision's AlexNet, its weights downloaded into
torch.hub's cache, then LPIPS's linear layers) before the model, so the model's initial weights
come from later draws. Offline the download fails; components.metrics.Lpips must still leave the
random stream where an online run leaves it. A fake weight file (a random AlexNet's state, saved
where torchvision caches the real one) lets the published constructor itself run here.
"""
import json

import pytest
import torch

from components import metrics as M
from tests.conftest import VECTORS, load_json, run_folder, run_py


@pytest.fixture
def fake_weights(tmp_path, monkeypatch):
    """A TORCH_HOME whose hub cache holds a random AlexNet's state under the real file's name; its
    state dict. The classifier (unused by LPIPS) is stored as zero-stride zeros to keep the file small."""
    from torchvision.models import alexnet

    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    with torch.random.fork_rng():
        torch.manual_seed(1)
        state = alexnet().state_dict()
    state = {k: v if k.startswith("features.") else v.new_zeros(()).expand(v.shape) for k, v in state.items()}
    path = home / "hub" / "checkpoints" / M.Lpips.WEIGHTS
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    assert M.Lpips.weights_path() == str(path)
    return state


def _after(build, seed=3407):
    """What `build()` returns, and the next draws of torch's global stream after it."""
    torch.manual_seed(seed)
    out = build()
    return out, torch.rand(16)


def test_same_draws_and_network_as_the_published_constructor(fake_weights, tmp_path, monkeypatch, capsys):
    import lpips

    published, theirs = _after(lambda: lpips.LPIPS(net="alex", version="0.1", verbose=False))  # reads the cache
    assert torch.equal(published.net.slice1[0].weight, fake_weights["features.0.weight"])  # not the random init

    ours, with_weights = _after(lambda: M.Lpips())
    assert ours.available and torch.equal(with_weights, theirs)
    mine, ref = ours.net.state_dict(), published.state_dict()
    assert mine.keys() == ref.keys() and all(torch.equal(mine[k], ref[k]) for k in ref)
    assert capsys.readouterr().err.count("warning: LPIPS disabled") == 0

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_home"))  # offline: no weights
    absent, without = _after(lambda: M.Lpips())
    err = capsys.readouterr().err
    assert not absent.available and torch.equal(without, theirs)
    assert err.count("warning: LPIPS disabled") == 1 and M.Lpips.weights_path() in err
    assert absent(torch.rand(3, 32, 32), torch.rand(3, 32, 32)) is None


def test_a_bad_weight_file_disables_lpips_with_one_warning(fake_weights, capsys):
    with open(M.Lpips.weights_path(), "wb") as f:
        f.write(b"not a checkpoint")
    _, after = _after(lambda: M.Lpips())
    err = capsys.readouterr().err
    assert err.count("warning: LPIPS disabled") == 1 and "cannot read" in err and M.Lpips.WEIGHTS in err
    torch.manual_seed(3407)
    M.Lpips(pnet_rand=True)  # the same construction, its weights never read
    assert torch.equal(torch.rand(16), after)


def test_image_experiments_pass_eval_lpips_as_the_published_manager(capsys, monkeypatch):
    import debug
    import run
    from config import EXPERIMENTS
    from manager import task_options

    for exp, e in EXPERIMENTS.items():  # audio has no LPIPS; the video trainer computes none
        assert task_options(exp, e.sets[0]).get("eval_lpips", False) == (e.signal_type == "image"), exp
    assert run.main(["001", "--only", "sym_power", "--dry_run", "--", "--num_epochs", "200"]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    assert " --eval_lpips " in line and line.endswith("--num_epochs 200")
    calls = []
    monkeypatch.setattr(debug, "run_main", lambda cmd, env: calls.append(cmd) or 0)
    monkeypatch.setattr(debug.sys, "argv", ["debug.py"])
    assert debug.debug() == 0 and "--eval_lpips" in calls[0]


def test_eval_lpips_fit_matches_the_published_lpips_draws(tmp_path, div2k_64px):
    """main.py --eval_lpips on DIV2K 00 at 64 px (offline here: LPIPS is null, the draws are an online
    run's) logs the published code's PSNR; without the flag, backbones_64px.json holds
    (tests/test_backbones.py)."""
    vectors = load_json(VECTORS / "lpips_draws_64px.json")["psnr"]
    save = tmp_path / "log"
    run_py("main.py", "--input_path", div2k_64px["00"], "--transform", "sym_power", "--eval_lpips",
           "--num_epochs", 200, "--log_epoch", 50, "--save_dir", save, "--device", "cpu", "--quiet", "--no_images",
           env={"OMP_NUM_THREADS": "1"}, check=True)
    res = json.loads((run_folder(save) / "results.json").read_text())
    (samples,) = res["samples"].values()
    assert res["sample_shapes"] == {"00": [3, 64, 64]}  # what the summariser's --paper checks
    assert sorted(samples, key=int) == sorted(vectors, key=int)
    for epoch, value in vectors.items():
        assert abs(samples[epoch]["psnr"] - value) < 0.01, (epoch, samples[epoch]["psnr"], value)

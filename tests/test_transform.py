"""Transforms against the reference's vectors (sym_power_div2k_test.json, attributes_div2k_test.json)."""
import json
import os

import numpy as np
import pytest
import torch

from components import transform as T
from config import ROWS
from opt import row_options
from tests.conftest import VECTORS, dataset, load_json, one_line_error, run_in_process
from util.io import Nominal, read_image

IMAGES = [f"{i:02d}.png" for i in range(16)]


def _close(a, b):
    return abs(a - b) <= max(1e-4 * abs(b), 1e-6)


@pytest.fixture(scope="module")
def div2k():
    div2k = dataset("div2k/test_data")
    return {n: read_image(str(div2k / n)) for n in IMAGES}


@pytest.fixture(scope="module")
def fitted(div2k):
    """(prepared data, permutation, fitted transform) of a row on an image, made once for the module:
    Box-Cox's maximum-likelihood fits of the 16 images dominate these tests. rpp (a random
    permutation from `generator`) is never cached."""
    cache = {}

    def get(row, name, generator=None):
        if row == "rpp" or (row, name) not in cache:
            opts, (data, nominal) = row_options(row), div2k[name]
            prepared, perm = T.prepare_data(data, opts, nominal, generator)
            if row == "rpp":
                return prepared, perm, T.build(opts, nominal.levels).fit(prepared)
            cache[row, name] = prepared, perm, T.build(opts, nominal.levels).fit(prepared)
        return cache[row, name]

    return get


def test_sym_power_params_match_reference(div2k):
    vec = load_json(VECTORS / "sym_power_div2k_test.json")["images"]
    for name, (data, nominal) in div2k.items():
        p = T.build(row_options("sym_power"), nominal.levels).fit(data).params
        for k in ("gamma", "gamma_half", "left", "right", "min", "max"):
            assert _close(p[k], vec[name][k]), (name, k, p[k], vec[name][k])


def test_attributes_of_every_row_match_reference(div2k, fitted):
    rows = load_json(VECTORS / "attributes_div2k_test.json")["rows"]
    assert set(rows) == set(ROWS)
    for row, expected in rows.items():
        gen = torch.Generator().manual_seed(0)
        got = []
        for name in div2k:
            prepared, _, tf = fitted(row, name, gen)
            got.append(T.attributes(tf.forward(prepared)))
        for k, v in expected.items():
            assert abs(np.mean([g[k] for g in got]) - v) < 0.005, (row, k)


def test_attributes_skew_is_scipys_biased_skewness():
    # computed with numpy (a fit need not import scipy.stats): checked against scipy.stats.skew itself
    from scipy import stats

    rng = np.random.default_rng(7)
    for v in (rng.exponential(size=4096), -rng.exponential(size=333) ** 2, rng.integers(0, 256, 3000) / 127.5 - 1,
              np.r_[np.zeros(500), np.ones(3)]):
        got = T.attributes(torch.from_numpy(v).float())
        x = torch.from_numpy(v).float().double().numpy()
        assert got["skew"] == pytest.approx(stats.skew(x), rel=1e-12, abs=1e-15)
        assert got["std"] == pytest.approx(x.std()) and got["range"] == pytest.approx((x.max() - x.min()) / 2)
    assert T.attributes(torch.full((10,), 3.0))["skew"] == 0.0  # constant data: no skew (scipy: nan)


def _boxcox_resolution(tf, x):
    """Intensity error that float32 rounding of the forward output alone causes: |dx/dy| * ulp(y) / 2."""
    p = tf.params
    dz_dx = (x.double() + p["offset"]) ** (p["lmbda"] - 1)
    dy_dx = dz_dx * p["scale"] / (p["max"] - p["min"])
    return 2.0 ** -25 / dy_dx


def test_round_trip_every_row_every_image(div2k, fitted):
    for row in ROWS:
        opts = row_options(row)
        for name, (data, nominal) in div2k.items():
            prepared, perm, tf = fitted(row, name)
            y = tf.forward(prepared).float()
            back = T.restore_data(tf.inverse(y), opts, nominal, perm)
            err = (back.double() - data.double()).abs()
            if row == "box_cox":
                # Image 11 (lambda -2.96) squeezes its bright end so hard that neighbouring float32 outputs
                # lie ~2e-3 levels apart there: allow the float32 resolution where it exceeds 1e-3.
                limit = torch.clamp(1.05 * _boxcox_resolution(tf, data), min=1e-3)
                assert (err <= limit).all(), (row, name, err.max().item())
            else:
                assert err.max().item() < 1e-3, (row, name, err.max().item())


def test_inspector_cli_reproduces_vectors_on_a_folder():
    vec = load_json(VECTORS / "sym_power_div2k_test.json")["images"]
    p = run_in_process("-m", "components.transform", dataset("div2k/test_data"), check=True)
    lines = [json.loads(line) for line in p.stdout.splitlines()]  # stdout is JSON only
    assert len(lines) == 17 and lines[-1]["file"] == "mean"
    for obj in lines[:-1]:
        name = obj["file"].split("/")[-1]
        assert set(obj) == {"file", "transform", "params", "std", "skew", "range"}
        assert set(obj["params"]) == {"gamma", "gamma_half", "left", "right", "min", "max"}
        assert _close(obj["params"]["gamma"], vec[name]["gamma"])
        assert abs(obj["skew"] - vec[name]["yskew"]) < 1e-4
    att = load_json(VECTORS / "attributes_div2k_test.json")["rows"]["sym_power"]
    assert all(abs(lines[-1][k] - att[k]) < 0.005 for k in att)


def test_inspector_cli_forced_gamma_row_and_bad_row():
    img = dataset("div2k/test_data/03.png")
    obj = json.loads(run_in_process("-m", "components.transform", img, "--transform", "gamma_2.0", check=True).stdout)
    assert obj["params"]["gamma"] == 2.0 and obj["params"]["gamma_half"] is None
    assert obj["params"]["left"] == 0 and obj["params"]["right"] == 0
    one_line_error(run_in_process("-m", "components.transform", img, "--transform", "gamma_3"), "gamma_3")


def test_inspector_checks_its_seed_as_main_py_does(tmp_path, tiny_png):
    """--seed within main.py's range (opt.RULES), one line otherwise, before anything is read."""
    from opt import check_values
    from util.errors import OptionError

    for seed in (-1, 0, 2 ** 32 - 1, 2 ** 32, 2 ** 70):
        p = run_in_process("-m", "components.transform", tiny_png, "--transform", "rpp", "--seed", seed)
        try:
            check_values({"seed": seed})
            assert p.returncode == 0, p.stderr
        except OptionError:
            one_line_error(p, "--seed", seed)


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF"), (".jpg", b"\xff\xd8\xff"),
                                           (".svg", b"<?xml"), (".tiff", b"II*\x00")])
def test_inspector_plot_writes_the_format_its_suffix_names(tmp_path, tiny_png, suffix, magic):
    out = tmp_path / f"x{suffix}"
    run_in_process("-m", "components.transform", tiny_png, "--plot", out, check=True)
    assert out.read_bytes().startswith(magic)


@pytest.mark.parametrize("name", ["x.foo", "x", "x.raw"])
def test_inspector_plot_refuses_a_format_it_cannot_write_before_the_work(tmp_path, tiny_png, name):
    (tmp_path / "out").mkdir()
    p = run_in_process("-m", "components.transform", tiny_png, "--plot", tmp_path / "out" / name)
    one_line_error(p, "--plot", name)
    assert p.stdout == "" and os.listdir(tmp_path / "out") == []  # refused before fitting: nothing printed or written


@pytest.mark.parametrize("row", list(ROWS))
def test_constant_data_maps_to_centre_without_nan(row):
    data = torch.full((3, 8, 8), 77.0)
    opts = row_options(row)
    nominal = Nominal(0, 255, 256)
    prepared, perm = T.prepare_data(data, opts, nominal)
    tf = T.build(opts, 256).fit(prepared)
    y = tf.forward(prepared)
    assert torch.isfinite(y).all()
    back = T.restore_data(tf.inverse(y), opts, nominal, perm)
    assert torch.allclose(back, data, atol=1e-3)
    if row not in ("z_score",):
        centre = (0.5 + tf.params["shift"]) * tf.params["scale"]
        assert torch.allclose(y, torch.full_like(y, centre), atol=1e-6)


def test_lengths_scale_with_the_nominal_range():
    """A 16-bit copy of an 8-bit image gets the same gamma and 256x the soft boundary (N / 256)."""
    g = torch.Generator().manual_seed(1)
    data8 = (torch.rand(3, 40, 40, generator=g) ** 2 * 255).round()
    p8 = T.build(row_options("sym_power"), 256).fit(data8).params
    p16 = T.build(row_options("sym_power"), 65536).fit(data8 * 257).params
    assert abs(p8["gamma"] - p16["gamma"]) < 1e-5
    assert abs(p16["left"] - 256 * p8["left"]) < 1e-3 * max(1, p16["left"])
    assert abs(p16["right"] - 256 * p8["right"]) < 1e-3 * max(1, p16["right"])
    # a waveform in [-1, 1]: nominal range 2, so the boundary is pn_k * 2 / 256 per unit mass
    wave = torch.sin(torch.linspace(0, 60, 8000)) * torch.linspace(0.1, 0.9, 8000)
    pw = T.build(row_options("sym_power"), 2).fit(wave[None]).params
    assert pw["left"] <= 2.0 and pw["right"] <= 2.0
    bc = T.build(row_options("box_cox"), 2, -1.0).fit(wave[None])
    assert abs(bc.params["offset"] - (0.1 * 2 + 1)) < 1e-12  # from the bottom of [-1, 1], scaled by 2 / 256
    assert T.build(row_options("box_cox")).fit(data8).params["offset"] == pytest.approx(25.6)


def test_ablations():
    data = (torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(2)) ** 3 * 255).round()
    full = T.build(row_options("sym_power"), 256).fit(data).params
    no_cal = T.build(row_options("sym_power", pn_beta=0), 256).fit(data).params
    assert no_cal["gamma"] == pytest.approx(max(1 / 5, min(5, no_cal["gamma_half"])), rel=1e-6)
    assert full["gamma"] != no_cal["gamma"]
    fixed = T.build(row_options("sym_power", pn_buffer=0.01), 256).fit(data).params
    assert fixed["left"] == pytest.approx(0.01 * (data.max() - data.min()).item())
    none = T.build(row_options("sym_power", pn_buffer=0), 256).fit(data).params
    assert none["left"] == 0 and none["right"] == 0
    narrow = T.build(row_options("sym_power", pn_beta=0, gamma_boundary=1.5), 256).fit(data).params
    assert 1 / 1.5 - 1e-6 <= narrow["gamma"] <= 1.5 + 1e-6


def test_fitted_params_are_plain_and_restore():
    data = (torch.rand(1, 20, 20, generator=torch.Generator().manual_seed(3)) * 255).round()
    for row in ROWS:
        opts = row_options(row)
        tf = T.build(opts, 256).fit(data)
        assert all(v is None or isinstance(v, (int, float)) for v in tf.params.values()), row
        again = T.restore({"name": tf.name, "params": json.loads(json.dumps(tf.params))})
        y = tf.forward(data)
        assert torch.allclose(again.inverse(y), tf.inverse(y))

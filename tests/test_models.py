"""Backbones: the reference's layout, initialisation and defaults."""
import numpy as np
import pytest
import torch

import models
from tests.conftest import VECTORS
from trainer import checkpoint

OPTS = dict(hidden_features=256, hidden_layers=3, first_omega=30.0, hidden_omega=30.0, scale=30.0, N_freqs=10,
            first_bias_scale=None, scale_req_grad=False)


def test_siren_state_dict_keys_and_reference_checkpoint():
    keys = list(models.Siren(2, 3).state_dict())
    assert keys == [f"net.{i}.linear.{w}" for i in range(4) for w in ("weight", "bias")] + ["net.4.weight", "net.4.bias"]
    state = checkpoint.load(VECTORS / "reference_ckpt" / "ckpt_00_1000.pth", trust=True)
    models.Siren(2, 3).load_state_dict(state["model"])


def test_siren_init_bounds():
    torch.manual_seed(0)
    m = models.Siren(2, 3)
    assert m.net[0].linear.weight.abs().max() <= 1 / 2
    bound = np.sqrt(6 / 256) / 30
    for layer in (m.net[1].linear, m.net[2].linear, m.net[3].linear, m.net[4]):
        assert layer.weight.abs().max() <= bound
        assert layer.weight.abs().max() > 0.9 * bound


def test_init_draw_order_is_the_references():
    """Default nn.Linear init then the uniform_ overwrite, layer by layer, from one seeded stream."""
    torch.manual_seed(3407)
    m = models.Siren(2, 3, hidden_features=8, hidden_layers=1)
    torch.manual_seed(3407)
    first = torch.nn.Linear(2, 8)
    w0 = torch.empty(8, 2).uniform_(-1 / 2, 1 / 2)
    assert torch.equal(m.net[0].linear.weight, w0) and torch.equal(m.net[0].linear.bias, first.bias)


@pytest.mark.parametrize("name", list(models.MODELS))
def test_every_backbone_builds_and_runs(name):
    m = models.build_model({**OPTS, "model_type": name}, 2, 3)
    out = m(torch.rand(7, 2) * 2 - 1)
    assert out.shape == (7, 3) and out.dtype == torch.float32 and torch.isfinite(out).all()


def test_defaults():
    assert [models.backbone_defaults(k)["lr"] for k in ("siren", "finer", "pemlp", "gauss", "wire")] == [1e-4, 5e-4, 1e-3, 5e-3, 5e-3]
    wire = models.build_model({**OPTS, "model_type": "wire"}, 2, 3)
    assert wire.net[1].linear.in_features == 181
    pe = models.build_model({**OPTS, "model_type": "pemlp"}, 2, 3)
    assert pe.net[0].in_features == 2 * 21


def test_finer_scale_has_no_gradient_by_default():
    torch.manual_seed(0)
    layer = models.FinerLayer(2, 4, is_first=True, first_bias_scale=0.5)
    assert layer.linear.bias.abs().max() <= 0.5
    x = torch.rand(5, 2, requires_grad=True)
    layer(x).sum().backward()
    z = layer.linear(x)
    expected = torch.autograd.grad((torch.sin(30 * (z.abs() + 1).detach() * z)).sum(), x)[0]
    assert torch.allclose(x.grad, expected, atol=1e-5)

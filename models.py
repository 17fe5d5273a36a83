"""INR backbones with the reference's definitions, initialisation and defaults.

SIREN's module layout (net.0.linear ... net.4) equals the reference's, so its checkpoints load.
Random draws happen in the reference's order: each layer's nn.Linear default init, then the
uniform_ overwrite of its weight.
"""
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from util.errors import OptionError


class SineLayer(nn.Module):
    """sin(omega * (W x + b)). First layer W ~ U(-1/in, 1/in), others U(-sqrt(6/in)/omega, +...)."""

    def __init__(self, in_features, out_features, is_first=False, omega=30.0):
        super().__init__()
        self.omega = omega
        self.linear = nn.Linear(in_features, out_features)
        bound = 1 / in_features if is_first else np.sqrt(6 / in_features) / omega
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, x):
        return torch.sin(self.omega * self.linear(x))


def _siren_final(hidden_features, out_features, omega):
    final = nn.Linear(hidden_features, out_features)
    bound = np.sqrt(6 / hidden_features) / omega
    with torch.no_grad():
        final.weight.uniform_(-bound, bound)
    return final


class _Stack(nn.Module):  # a backbone whose layers are self.net
    def forward(self, coords):
        return self.net(coords)


class Siren(_Stack):
    def __init__(self, in_features, out_features, hidden_features=256, hidden_layers=3, first_omega=30.0,
                 hidden_omega=30.0):
        super().__init__()
        layers = [SineLayer(in_features, hidden_features, is_first=True, omega=first_omega)]
        layers += [SineLayer(hidden_features, hidden_features, omega=hidden_omega) for _ in range(hidden_layers)]
        layers.append(_siren_final(hidden_features, out_features, hidden_omega))
        self.net = nn.Sequential(*layers)


class FinerLayer(SineLayer):
    """sin(omega * (|z| + 1) * z), z = W x + b; the factor |z| + 1 carries no gradient by default."""

    def __init__(self, in_features, out_features, is_first=False, omega=30.0, first_bias_scale=None,
                 scale_req_grad=False):
        super().__init__(in_features, out_features, is_first, omega)
        self.scale_req_grad = scale_req_grad
        if is_first and first_bias_scale is not None:
            with torch.no_grad():
                self.linear.bias.uniform_(-first_bias_scale, first_bias_scale)

    def forward(self, x):
        z = self.linear(x)
        scale = z.abs() + 1
        return torch.sin(self.omega * (scale if self.scale_req_grad else scale.detach()) * z)


class Finer(_Stack):
    def __init__(self, in_features, out_features, hidden_features=256, hidden_layers=3, first_omega=30.0,
                 hidden_omega=30.0, first_bias_scale=None, scale_req_grad=False):
        super().__init__()
        layers = [FinerLayer(in_features, hidden_features, True, first_omega, first_bias_scale, scale_req_grad)]
        layers += [FinerLayer(hidden_features, hidden_features, False, hidden_omega, None, scale_req_grad)
                   for _ in range(hidden_layers)]
        layers.append(_siren_final(hidden_features, out_features, hidden_omega))
        self.net = nn.Sequential(*layers)


class GaussLayer(nn.Module):
    """exp(-(scale * (W x + b))^2), PyTorch's default init."""

    def __init__(self, in_features, out_features, scale=30.0):
        super().__init__()
        self.scale = scale
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        return torch.exp(-((self.scale * self.linear(x)) ** 2))


class Gauss(_Stack):
    def __init__(self, in_features, out_features, hidden_features=256, hidden_layers=3, scale=30.0):
        super().__init__()
        layers = [GaussLayer(n, hidden_features, scale) for n in [in_features] + [hidden_features] * hidden_layers]
        layers.append(nn.Linear(hidden_features, out_features))
        self.net = nn.Sequential(*layers)


class GaborLayer(nn.Module):
    """WIRE's complex Gabor wavelet exp(i omega z - |scale z|^2); the first layer is real.

    omega and scale are stored as frozen parameters, as the reference (and WIRE) keep them."""

    def __init__(self, in_features, out_features, is_first=False, omega=30.0, scale=30.0):
        super().__init__()
        self.omega = nn.Parameter(omega * torch.ones(1), requires_grad=False)
        self.scale = nn.Parameter(scale * torch.ones(1), requires_grad=False)
        self.linear = nn.Linear(in_features, out_features, dtype=torch.float if is_first else torch.cfloat)

    def forward(self, x):
        z = self.linear(x)
        return torch.exp(1j * (self.omega * z) - (self.scale * z).abs().square())


class Wire(nn.Module):
    def __init__(self, in_features, out_features, hidden_features=256, hidden_layers=3, first_omega=30.0,
                 hidden_omega=30.0, scale=30.0):
        super().__init__()
        hidden_features = int(hidden_features / np.sqrt(2))  # a complex unit holds two reals: 256 -> 181
        layers = [GaborLayer(in_features, hidden_features, True, first_omega, scale)]
        layers += [GaborLayer(hidden_features, hidden_features, False, hidden_omega, scale)
                   for _ in range(hidden_layers)]
        layers.append(nn.Linear(hidden_features, out_features, dtype=torch.cfloat))
        self.net = nn.Sequential(*layers)

    def forward(self, coords):
        return self.net(coords).real


class PositionalEncoding(nn.Module):
    """[x, sin(2^k x), cos(2^k x) for k = 0 .. N_freqs - 1]."""

    def __init__(self, in_features, n_freqs=10):
        super().__init__()
        self.register_buffer("freqs", 2 ** torch.linspace(0, n_freqs - 1, n_freqs), persistent=False)
        self.out_features = in_features * (2 * n_freqs + 1)

    def forward(self, x):
        return torch.cat([x] + [t for f in self.freqs for t in (torch.sin(f * x), torch.cos(f * x))], -1)


class PEMLP(nn.Module):
    def __init__(self, in_features, out_features, hidden_features=256, hidden_layers=3, n_freqs=10):
        super().__init__()
        self.encoding = PositionalEncoding(in_features, n_freqs)
        layers = [nn.Linear(self.encoding.out_features, hidden_features), nn.ReLU(True)]
        for _ in range(hidden_layers):
            layers += [nn.Linear(hidden_features, hidden_features), nn.ReLU(True)]
        layers.append(nn.Linear(hidden_features, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, coords):
        return self.net(self.encoding(coords))


class Backbone(NamedTuple):
    cls: type
    options: dict  # the class's argument -> the option (args) it is read from
    defaults: dict  # options left None in opt.py that this backbone sets (opt.resolve); a modality's refine them


MODELS = {
    "siren": Backbone(Siren, {"first_omega": "first_omega", "hidden_omega": "hidden_omega"},
                      {"lr": 1e-4, "first_omega": 30.0}),
    "finer": Backbone(Finer, {"first_omega": "first_omega", "hidden_omega": "hidden_omega",
                              "first_bias_scale": "first_bias_scale", "scale_req_grad": "scale_req_grad"},
                      {"lr": 5e-4, "first_omega": 30.0}),
    "wire": Backbone(Wire, {"first_omega": "first_omega", "hidden_omega": "hidden_omega", "scale": "scale"},
                     {"lr": 5e-3, "first_omega": 30.0}),
    "gauss": Backbone(Gauss, {"scale": "scale"}, {"lr": 5e-3}),
    "pemlp": Backbone(PEMLP, {"n_freqs": "N_freqs"}, {"lr": 1e-3}),
}


def check_model(model_type):
    if model_type not in MODELS:
        raise OptionError(f"unknown model '{model_type}' (valid: {', '.join(MODELS)})")
    return MODELS[model_type]


def backbone_defaults(model_type):
    return dict(check_model(model_type).defaults)


def build_model(opts, in_features, out_features):
    """A backbone from a resolved option dict (opt.resolve) with the reference's option names."""
    backbone = check_model(opts["model_type"])
    kwargs = {k: opts[a] for k, a in backbone.options.items()}
    return backbone.cls(in_features, out_features, hidden_features=opts["hidden_features"],
               hidden_layers=opts["hidden_layers"], **kwargs)


def n_params(model):
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters() if p.requires_grad)

"""Reversible data transforms applied before an INR fits a signal (Table 1 of the paper).

Each transform is one small class: `fit(data)` computes its parameters from the data, `forward`
maps data to the network's target domain, `inverse` maps a prediction back, and `params` holds the
fitted parameters as plain numbers (what a checkpoint stores; `from_params` rebuilds the object).

This file is also a library: copy it alone into another project (it needs numpy, torch and scipy
only). The constructors take keyword arguments whose defaults are the paper's; `fit`, `forward` and
`inverse` take a numpy array or a torch tensor of any shape and dtype and return the same kind:
float32 and float64 data keep their dtype, any other (integers, float16, bool) becomes float32.
`json.dumps(t.params)` and `type(t).from_params(...)` store and rebuild a fitted transform. Bad data
or parameters raise TransformError (a ValueError); this project's entry points print it as one line
with exit code 2, as their own UserError.

    tf = SymPower().fit(image)         # uint8 HxWx3, 8-bit: levels=256 (16-bit data: levels=65536)
    y = tf.forward(image)              # float32 in [-1, 1]
    x = tf.inverse(y)                  # the image again, in its own units

Data are in the signal's own units (0..255 for 8-bit images). The reference measures
two lengths in intensity levels of 8-bit data: the adaptive soft boundary (pn_k x tail mass) and
the Box-Cox offset (box_shift x 256). Here both scale with the nominal full-scale range N / 256
(N = 256 for 8-bit images, which is exactly the reference; 65536 for 16-bit images; 2 for
signals in [-1, 1]), so the transforms behave the same on data of any bit depth. The Box-Cox
offset is counted from the bottom of the nominal range (x - lo + box_shift * N), which for images
(lo = 0) is the reference's x + 25.6 and keeps a waveform in [-1, 1] positive.

The Table 1 rows `inverse` and `rpp` change the data, not the value mapping: `prepare_data`
inverts (lo + hi - x) or permutes the pixels before a [-1, 1] min-max, and metrics are computed on
that prepared data, as in the reference.

    python -m components.transform PATH [--transform ROW]   # fitted params and attributes as JSON
"""
import functools
import inspect
import json
import math
import sys

import numpy as np
import torch
from scipy import stats

BINS = 256  # histogram bins of the reference, whatever the bit depth
SHIFT, SCALE = -0.5, 2.0  # the final affine shift then scale: [0, 1] -> [-1, 1]
LEVELS = 256.0  # nominal full-scale range of the data: 8-bit


class TransformError(ValueError):
    """Data, parameters or a name that a transform cannot use: the caller's mistake, not a bug."""


def _as_tensor(data):
    """(data as a float tensor, a function that hands a result back in the caller's kind). float32 and
    float64 keep their dtype (a float32 tensor passes untouched: the training path); every other dtype
    becomes float32, which holds 8- and 16-bit values exactly."""
    if isinstance(data, torch.Tensor):
        if data.dtype in (torch.float32, torch.float64):
            return data, _same
        if data.is_complex():
            raise TransformError(f"data of dtype {data.dtype} are not real numbers")
        return data.float(), _same
    arr = np.asarray(data)
    if arr.dtype.kind not in "biuf":
        raise TransformError(f"data of dtype {arr.dtype} are not real numbers")
    dtype = np.float64 if arr.dtype.kind == "f" and arr.dtype.itemsize == 8 else np.float32
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=dtype)), _to_numpy


def _same(t):
    return t


def _to_numpy(t):
    return t.detach().cpu().numpy()


class Transform:
    name = ""
    KEYS = frozenset()  # the fitted parameters that forward and inverse need

    def fit(self, data):
        """Compute the parameters from `data` (numpy or torch, any shape); returns self."""
        x, _ = _as_tensor(data)
        if x.numel() == 0:
            raise TransformError("cannot fit empty data")
        if not bool(torch.isfinite(x).all()):
            raise TransformError("data contain NaN or infinity")
        self._fit(x)
        return self

    def forward(self, data):
        """Data to the network's target domain, in the caller's kind (numpy or torch)."""
        x, back = _as_tensor(data)
        self._check_fitted()
        return back(self._forward(x))

    def inverse(self, data):
        """A prediction back to the data's units, in the caller's kind (numpy or torch)."""
        x, back = _as_tensor(data)
        self._check_fitted()
        return back(self._inverse(x))

    def _check_fitted(self):
        if not self.KEYS <= self._params.keys():
            raise TransformError(f"{self.name}: call fit(data) (or from_params) before forward / inverse")

    @property
    def params(self):
        """The fitted parameters as plain numbers: json.dumps them, from_params rebuilds the transform."""
        return dict(self._params)

    @classmethod
    def from_params(cls, params):
        missing = sorted(k for k in cls.KEYS if k not in params)
        if missing:
            raise TransformError(f"{cls.name}: parameters lack {', '.join(missing)}")
        for k in sorted(cls.KEYS):
            v = params[k]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise TransformError(f"{cls.name}: parameter {k} must be a finite number (got {v!r})")
        t = cls.__new__(cls)
        t._params = dict(params)
        return t


def _range01(data, lo, hi):
    """Min-max to [0, 1]; constant data maps to the centre (0.5) instead of 0 / 0."""
    if hi == lo:
        return torch.full_like(data, 0.5)
    return (data - lo) / (hi - lo)


class MinMax(Transform):
    """Min-max to [0, 1], then the affine shift-then-scale: y = (x01 + shift) * scale."""
    name = "min_max"
    KEYS = frozenset({"shift", "scale", "min", "max"})

    def __init__(self, *, shift=SHIFT, scale=SCALE):
        self._params = {"shift": float(shift), "scale": float(scale)}

    def _fit(self, data):
        self._params.update(min=float(data.min()), max=float(data.max()))
        return self

    def _forward(self, data):
        p = self._params
        return (_range01(data, p["min"], p["max"]) + p["shift"]) * p["scale"]

    def _inverse(self, data):
        p = self._params
        return (data / p["scale"] - p["shift"]) * (p["max"] - p["min"]) + p["min"]


class ZScore(Transform):
    """(x - mean) / (std + 1e-5), std the unbiased sample deviation, as the reference."""
    name = "z_score"
    KEYS = frozenset({"mean", "std"})

    def __init__(self):
        self._params = {}

    def _fit(self, data):
        self._params.update(mean=float(data.mean()), std=float(data.std()) if data.numel() > 1 else 0.0)
        return self

    def _forward(self, data):
        mean, spread = _constants(_zscore_constants, self._params["mean"], self._params["std"], like=data)
        return (data - mean) / spread

    def _inverse(self, data):
        mean, spread = _constants(_zscore_constants, self._params["mean"], self._params["std"], like=data)
        return data * spread + mean


class BoxCox(Transform):
    """Offset to positive values, Box-Cox (lambda by maximum likelihood), min-max, shift/scale.

    The inverse runs in float64: with strongly negative lambda (DIV2K image 11: -2.96) the float32
    power overflows.
    """
    name = "box_cox"
    KEYS = frozenset({"offset", "shift", "scale", "lmbda", "min", "max"})

    def __init__(self, *, box_shift=0.1, shift=SHIFT, scale=SCALE, levels=LEVELS, lo=0.0):
        # box_shift x 256 intensity levels above the bottom of the nominal range (0 for images, where
        # this is the reference's x + 25.6), scaled with the full-scale range.
        self._params = {"offset": float(box_shift) * 256 * levels / 256 - float(lo), "shift": float(shift),
                        "scale": float(scale)}

    def _fit(self, data):
        x = data.detach().cpu().double().flatten().numpy() + self._params["offset"]
        if x.min() <= 0:
            raise TransformError(f"box_cox needs data above -{self._params['offset']:g} (min is {x.min() - self._params['offset']:g})")
        if x.max() == x.min():
            lam, y = 1.0, x - 1.0  # constant data: any lambda fits; take the identity's
        else:
            y, lam = stats.boxcox(x)
        self._params.update(lmbda=float(lam), min=float(y.min()), max=float(y.max()))
        return self

    def _boxcox(self, data):
        lam, x = self._params["lmbda"], data.double() + self._params["offset"]
        return torch.log(x) if lam == 0 else (x ** lam - 1) / lam

    def _forward(self, data):
        p = self._params
        return ((_range01(self._boxcox(data), p["min"], p["max"]) + p["shift"]) * p["scale"]).to(data.dtype)

    def _inverse(self, data):
        p = self._params
        z = (data.double() / p["scale"] - p["shift"]).clamp(0.0, 1.0) * (p["max"] - p["min"]) + p["min"]
        lam = p["lmbda"]
        x = torch.exp(z) if lam == 0 else (lam * z + 1).clamp_min(0) ** (1 / lam)
        return (x - p["offset"]).to(data.dtype)


class SymPower(Transform):
    """The symmetric power transformation (the paper's method).

    fit: median centring picks gamma_half so that the median lands near the centre of the range;
    deviation-aware calibration (pn_beta) pulls gamma back towards 1 when the power would pile
    mass into an extreme; gamma is clamped to [1/gamma_boundary, gamma_boundary]; the adaptive soft
    boundary (pn_alpha, pn_k) widens the range by L below the minimum and R above the maximum in
    proportion to the mass in the tails, so the extremes are not pinned to -1 and 1.
    forward: y = (((x - (min - L)) / (max - min + L + R)) ** gamma + shift) * scale.
    Ablations: pn_beta <= 0 turns calibration off; pn_buffer >= 0 replaces L and R by
    pn_buffer * (max - min); gamma_trans >= 0 forces gamma and turns the boundary off (gamma rows).
    """
    name = "sym_power"
    KEYS = frozenset({"shift", "scale", "min", "max", "gamma", "left", "right"})

    def __init__(self, *, pn_cum=0.5, pn_buffer=-1.0, pn_alpha=0.01, pn_k=256.0, pn_beta=0.05, gamma_boundary=5.0,
                 gamma_trans=-1.0, shift=SHIFT, scale=SCALE, levels=LEVELS):
        self.opts = dict(pn_cum=pn_cum, pn_buffer=pn_buffer, pn_alpha=pn_alpha, pn_k=pn_k, pn_beta=pn_beta,
                         gamma_boundary=gamma_boundary, gamma_trans=gamma_trans, levels=levels)
        self._params = {"shift": float(shift), "scale": float(scale)}

    @staticmethod
    def _pdf(x):
        hist = torch.histc(x.flatten(), bins=BINS, min=float(x.min()), max=float(x.max()))
        return hist / hist.sum()

    def _gamma_half(self, pdf):
        """Median centring: the first bin whose cdf reaches pn_cum, as a fraction m of the range."""
        cdf = torch.cumsum(pdf, dim=0)
        m = torch.searchsorted(cdf, torch.tensor(self.opts["pn_cum"], dtype=cdf.dtype)).float() / BINS
        # log(0.5) / log(m) exactly as the reference evaluates np.log(0.5) / np.log(m): numpy's float32
        # log (not torch's, which differs by an ulp for a fifth of the bins), and numpy's float64 over a
        # tensor dispatches to Tensor.__rtruediv__, a reciprocal times the scalar. Otherwise gamma can be
        # one float32 ulp off, enough to change a chaotic fit such as Gauss's.
        log_m = torch.tensor(np.log(m.cpu().numpy()))
        return log_m.reciprocal() * math.log(0.5)

    def _calibrate(self, x, pdf, gamma_half):
        """Deviation-aware calibration: d = extra mass the power moves into the extreme bins / beta."""
        beta = self.opts["pn_beta"]
        n = int(beta * BINS)
        powered_pdf = self._pdf(((x - x.min()) / (x.max() - x.min())) ** gamma_half)
        edge = slice(None, n) if gamma_half > 1 else slice(-n, None)
        d = (powered_pdf[edge].sum() - pdf[edge].sum()) / beta
        # d < 0 (mass moved out of the extreme) is applied as is: it moves gamma away from 1 (protocol.md).
        if gamma_half >= 1:
            return gamma_half - (gamma_half - 1) * torch.clamp(d, max=1)
        return 1 / (1 / gamma_half - (1 / gamma_half - 1) * torch.clamp(d, max=1))

    def _fit(self, data):
        o = self.opts
        x = data.detach().cpu().float()
        lo, hi = float(x.min()), float(x.max())
        p = self._params
        p.update(min=lo, max=hi, gamma_half=None, left=0.0, right=0.0)
        if o["gamma_trans"] >= 0:
            p["gamma"] = float(o["gamma_trans"])
            return self
        if hi == lo:  # constant data: nothing to redistribute
            p.update(gamma=1.0, gamma_half=1.0)
            return self
        pdf = self._pdf(x)
        gamma_half = self._gamma_half(pdf)
        gamma = self._calibrate(x, pdf, gamma_half) if o["pn_beta"] > 0 else gamma_half
        bound = o["gamma_boundary"]
        gamma = min(bound, float(gamma)) if gamma > 1 else max(1 / bound, float(gamma))
        if o["pn_buffer"] < 0:
            a = int(o["pn_alpha"] * BINS)
            unit = o["pn_k"] * o["levels"] / 256  # pn_k intensity levels of 8-bit data, scaled with N / 256
            p.update(left=float(unit * pdf[:a].sum()), right=float(unit * pdf[-a:].sum()))
        else:
            p.update(left=(hi - lo) * o["pn_buffer"], right=(hi - lo) * o["pn_buffer"])
        p.update(gamma=float(gamma), gamma_half=float(gamma_half))
        return self

    def _forward(self, data):
        p = self._params
        edge, width, gamma, _ = _constants(_sym_power_constants, *(p[k] for k in SYM_POWER_KEYS), like=data)
        if p["max"] - p["min"] + p["left"] + p["right"] == 0:  # constant data: the centre of the range
            return torch.full_like(data, (0.5 + p["shift"]) * p["scale"])
        return (torch.pow((data - edge) / width, gamma) + p["shift"]) * p["scale"]

    def _inverse(self, data):
        p = self._params
        edge, width, _, inv_gamma = _constants(_sym_power_constants, *(p[k] for k in SYM_POWER_KEYS), like=data)
        return torch.pow((data / p["scale"] - p["shift"]).clamp(0.0, 1.0), inv_gamma) * width + edge


# The reference keeps fitted parameters as float32 tensors, so each sum of them rounds in float32. They
# are made here once per (values, dtype, device), as 0-d tensors on the data's device: no host-to-device
# copy inside a training step, and nothing for a CUDA graph to trip over.

SYM_POWER_KEYS = ("min", "max", "gamma", "left", "right")


def _sym_power_constants(mn, mx, gamma, left, right):
    """(min - L, max - min + (L + R), gamma, 1 / gamma), summed in the reference's order."""
    return mn - left, mx - mn + (left + right), gamma, gamma.reciprocal()


def _zscore_constants(mean, std):
    return mean, std + 1e-5


@functools.lru_cache(maxsize=256)
def _cached_constants(derive, values, dtype, device):
    return derive(*(torch.tensor(v, dtype=dtype, device=device) for v in values))


def _constants(derive, *values, like):
    return _cached_constants(derive, values, like.dtype, like.device)


TRANSFORMS = {cls.name: cls for cls in (MinMax, ZScore, BoxCox, SymPower)}


def _keyword_defaults(cls):
    return {k: p.default for k, p in inspect.signature(cls).parameters.items()}


# The transforms' command-line options (main.py's, named as the reference's) with their defaults, read
# off the constructors: the paper's values are written once, in the signatures above; opt.py takes them.
OPTION_DEFAULTS = {
    "trans_shift": SHIFT, "trans_scale": SCALE,
    **{k: v for k, v in _keyword_defaults(SymPower).items() if k.startswith(("pn_", "gamma_"))},
    "box_shift": _keyword_defaults(BoxCox)["box_shift"],
    "inverse": False, "rpp": False,
}


def build(opts, levels=LEVELS, lo=0.0):
    """A fresh, unfitted transform from an option dict (main.py's options, or OPTION_DEFAULTS with a Table 1
    row's on top) for data whose nominal range starts at `lo` and spans `levels` (256 for 8-bit
    images, 2 for [-1, 1])."""
    name = opts["transform"]
    shift, scale = opts["trans_shift"], opts["trans_scale"]
    if name == "min_max":
        return MinMax(shift=shift, scale=scale)
    if name == "z_score":
        return ZScore()
    if name == "box_cox":
        return BoxCox(box_shift=opts["box_shift"], shift=shift, scale=scale, levels=levels, lo=lo)
    if name == "sym_power":
        return SymPower(pn_cum=opts["pn_cum"], pn_buffer=opts["pn_buffer"], pn_alpha=opts["pn_alpha"],
                        pn_k=opts["pn_k"], pn_beta=opts["pn_beta"], gamma_boundary=opts["gamma_boundary"],
                        gamma_trans=opts["gamma_trans"], shift=shift, scale=scale, levels=levels)
    raise TransformError(f"unknown transform '{name}' (valid: {', '.join(TRANSFORMS)})")


def restore(state):
    """Rebuild a fitted transform from {"name": ..., "params": {...}} (as stored in a checkpoint)."""
    if not isinstance(state, dict) or state.get("name") not in TRANSFORMS:
        name = state.get("name") if isinstance(state, dict) else state
        raise TransformError(f"unknown transform '{name}' in checkpoint")
    if not isinstance(state.get("params"), dict):
        raise TransformError(f"transform '{state['name']}' in checkpoint has no parameters")
    return TRANSFORMS[state["name"]].from_params(state["params"])


def prepare_data(data, opts, nominal, generator=None, perm=None):
    """Apply the data-changing rows before the transform: `inverse` (lo + hi - x over the nominal
    range: 255 - x for 8-bit) and `rpp` (one random permutation of pixel positions, shared by all
    channels; `data` is (C, ...) and positions are flattened). Returns (data, permutation or None).
    The permutation is drawn from torch's global stream, after the LPIPS network and before the
    model, as the reference does, unless `perm` (a stored one) is given."""
    if opts.get("inverse"):
        data = (nominal.lo + nominal.hi) - data
    if opts.get("rpp") or perm is not None:
        c = data.shape[0]
        if perm is None:
            perm = torch.randperm(data[0].numel(), generator=generator)
        data = data.reshape(c, -1)[:, perm].reshape(data.shape)
    return data, perm


def restore_data(data, opts, nominal, perm=None):
    """Undo `prepare_data`: put permuted pixels back and un-invert, giving the signal itself."""
    if perm is not None:
        c = data.shape[0]
        flat = torch.empty_like(data.reshape(c, -1))
        flat[:, perm.to(data.device)] = data.reshape(c, -1)
        data = flat.reshape(data.shape)
    if opts.get("inverse"):
        data = (nominal.lo + nominal.hi) - data
    return data


def attributes(values):
    """Table 1's Attributes of transformed data: population std, biased skewness, half range."""
    v = values.detach().cpu().double().flatten().numpy()
    skew = float(stats.skew(v)) if v.std() > 0 else 0.0
    return {"std": float(v.std()), "skew": skew, "range": float((v.max() - v.min()) / 2)}


def attributes_of_images(images, opts):
    """Table 1's Attributes of a parameter set (an option dict: main.py's, or a published run's
    args.json) over images, (data, nominal range) pairs as util.io.read_image gives them: each image
    prepared and transformed as a run does, then the mean."""
    rows = []
    for data, nominal in images:
        data, _ = prepare_data(data, opts, nominal, torch.Generator().manual_seed(0))  # rpp: order-free
        rows.append(attributes(build(opts, nominal.levels, nominal.lo).fit(data).forward(data)))
    return {k: float(np.mean([r[k] for r in rows])) for k in ("std", "skew", "range")}


def inspector_params(t):
    """Parameters as the inspector prints them: sym-power's in the names of the reference vectors (its
    shift and scale are the row's options), the other transforms' all of theirs."""
    p = t.params
    if isinstance(t, SymPower):
        keys = ("gamma", "gamma_half", "left", "right", "min", "max")
        return {k: p[k] for k in keys}
    return p


def _main(argv=None):
    # The command-line tool reads files and draws plots with the project's helpers; the library above
    # needs none of them.
    from components.rows import ROWS
    from util.cli import Parser
    from util.errors import EXIT_USAGE, UserError
    from util.io import IMAGE_EXTS, list_samples, read_image, sample_name
    from util.plot import MAX_ROWS as PLOT_ROWS

    ap = Parser(prog="python -m components.transform",
                description="Fit a Table 1 transform to images; print its parameters and the "
                            "transformed data's attributes as JSON lines.")
    ap.add_argument("path", help="an image file or a folder of images")
    ap.add_argument("--transform", default="sym_power", help=f"Table 1 row: {', '.join(ROWS)}")
    ap.add_argument("--seed", type=int, default=3407, help="seed of the rpp permutation")
    ap.add_argument("--plot", default=None, metavar="OUT.png",
                    help="histograms before / after and the transform curve (a folder: its first few files)")
    args = ap.parse_args(argv)
    if args.transform not in ROWS:
        ap.exit(EXIT_USAGE, f"error: unknown transform row '{args.transform}' (valid: {', '.join(ROWS)})\n")
    opts = {**OPTION_DEFAULTS, **ROWS[args.transform]}
    try:
        files = list_samples(args.path, IMAGE_EXTS)
        gen = torch.Generator().manual_seed(args.seed)
        rows, panels = [], []
        for f in files:
            data, nominal = read_image(f)
            data, _ = prepare_data(data, opts, nominal, gen)
            t = build(opts, nominal.levels, nominal.lo).fit(data)
            y = t.forward(data)
            attrs = attributes(y)
            rows.append(attrs)
            if args.plot and len(panels) < PLOT_ROWS:
                panels.append((sample_name(f), data, y, t))
            print(json.dumps({"file": f, "transform": args.transform, "params": inspector_params(t),
                              **attrs}), flush=True)
            print(f"{f}: {args.transform} std {attrs['std']:.4f} skew {attrs['skew']:.4f}", file=sys.stderr)
        if args.plot:
            from util.plot import plot_transforms

            plot_transforms(panels, args.plot, args.transform)
            shown = ", ".join(p[0] for p in panels)
            print(f"plot: {args.plot} ({shown}" + (f"; first {len(panels)} of {len(files)} files)" if len(files) >
                                                  len(panels) else ")"), file=sys.stderr)
    except (UserError, TransformError, OSError) as e:
        ap.exit(EXIT_USAGE, f"error: {e}\n")
    if len(files) > 1 or len(rows) > 1:
        mean = {k: float(np.mean([r[k] for r in rows])) for k in ("std", "skew", "range")}
        print(json.dumps({"file": "mean", "transform": args.transform, **mean}))


if __name__ == "__main__":
    _main()

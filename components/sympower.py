"""sym-power: the symmetric power transformation of "Enhancing Implicit Neural Representations via
Symmetric Power Transformation" (Zhang et al., AAAI 2025), and the transforms Table 1 compares it with
(MinMax, ZScore, BoxCox): reversible maps of a signal into the [-1, 1] an INR fits.

    from sympower import SymPower          # pip install <this repository>, or copy this one file
    tf = SymPower().fit(image)             # uint8 H x W x 3: 8-bit levels, read off the dtype
    y = tf.transform(image)                # float32 in [-1, 1]: the network's target
    x = tf.inverse_transform(y)            # the image again, in its own units

Needs numpy only (BoxCox.fit imports scipy; a tensor in, or `as_module()`, imports torch). Numpy in gives
numpy out, a tensor in a tensor out (its device, its gradient); float32 / float64 kept, else float32.
The whole signal is ONE distribution, as in the paper: all values share one histogram and one fit.

Units: the reference counts two lengths in 8-bit levels (sym-power's soft boundary, BoxCox's offset);
here they scale with the full-scale range `levels` (N). levels=None reads N off the dtype (uint8 / int8
256, uint16 / int16 65536, bool 2; floats [0, 1], N = 1, and refuses float data outside [0, 1] or wider
integers: say `levels`, e.g. 256 for 8-bit values as floats, 2 with BoxCox's lo=-1 for audio).
Inverse: inside the fitted range inverse_transform(transform(x)) gives x back (8/16-bit integers exactly
after rounding; floats to 1e-5 (float32) or 1e-9 (float64) of their range). Beyond [-1, 1] SymPower and
BoxCox clamp to the fitted range; MinMax and ZScore extend linearly, as the published code does.

scikit-learn's conventions (never imported here): options in __init__, fit returns self, transform /
inverse_transform / fit_transform, get_params / set_params, tags, fitted numbers as `tf.gamma_`. Also
`forward` / `inverse`, `params` (a JSON-able dict; `type(tf).from_params(d)` rebuilds) and `as_module()`
(a differentiable torch.nn.Module with the fit in buffers). Differences by design (tests/test_sklearn.py):
  - the whole signal is one distribution, of any shape: no columns, no n_features_in_; a 1-D array is a
    signal (not an error) and data of another shape may be transformed;
  - options are checked at the door: __init__ and set_params refuse a bad value at once;
  - only arrays of numbers: an object array is refused, not converted; sparse input too (densify it);
  - float data are taken in [0, 1] unless `levels` says their units (above);
  - BoxCox needs data above lo - box_shift x levels, and refuses a fit whose maximum-likelihood lambda
    maps distinct data to one value.
Every bad argument or datum raises TransformError (a ValueError) naming it and what is allowed.
"""
import functools
import inspect
import math
import numbers
import sys

import numpy as np

__version__ = "0.1.0"  # the package's version (pyproject.toml reads it from here)

BINS = 256  # histogram bins of the reference, whatever the bit depth
SHIFT, SCALE = -0.5, 2.0  # the final affine shift then scale: [0, 1] -> [-1, 1]
FLOAT_RANGE = (0.0, 1.0)  # the nominal range assumed for float data when levels is None
DTYPE_RANGES = {"uint8": (0, 256), "int8": (-128, 256), "uint16": (0, 65536), "int16": (-32768, 65536),
                "bool": (0, 2)}  # (lo, levels) of integer data, read off the dtype


class TransformError(ValueError):
    """Data, parameters or a name that a transform cannot use: the caller's mistake, not a bug."""


# ---- arguments and data: checked at the door ----

def check_number(who, name, v, lo=-math.inf, hi=math.inf, *, lo_open=False, hi_open=False, off=None,
                 magnitude=False, note=""):
    """`v` as a float if a real number in [lo, hi], else TransformError naming `name` and the range.
    `off`: "< 0" or "<= 0", values that turn the option off; `magnitude`: the range holds |v|."""
    rng = f"{'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    rng = (f"{off} (off) or in {rng}" if off else f"in {rng}") if not magnitude else f"of magnitude in {rng}"
    what = f"{who}: {name} must be a finite number {rng}{note} (got {v!r})"
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TransformError(what)
    try:
        f = float(v)
    except (OverflowError, ValueError):
        raise TransformError(what) from None
    if not math.isfinite(f):
        raise TransformError(what)
    if (off == "< 0" and f < 0) or (off == "<= 0" and f <= 0):
        return f
    m = abs(f) if magnitude else f
    if m < lo or m > hi or (lo_open and m == lo) or (hi_open and m == hi):
        raise TransformError(what)
    return f


def _is_tensor(data):
    torch = sys.modules.get("torch")  # a tensor can only exist if torch is already imported
    return torch is not None and isinstance(data, torch.Tensor)


def _as_array(data):
    """(data as a float array, its operations, the source dtype's name): a tensor stays a tensor, anything
    else becomes numpy; float32 / float64 kept, others float32 (which holds 16-bit values exactly)."""
    if type(data).__module__.startswith("scipy.sparse") or _is_tensor(data) and str(data.layout) != "torch.strided":
        # a signal is dense (its zeros are values of the histogram); asarray would make an object array
        raise TransformError(f"sparse input is not supported; densify it with "
                             f"{'.to_dense()' if _is_tensor(data) else '.toarray()'}")
    if _is_tensor(data):
        if data.device.type == "meta":
            raise TransformError("data on the meta device hold no values")
        if data.is_complex():
            raise TransformError(f"Complex data not supported (dtype {data.dtype}): data must be real numbers")
        import torch

        x = data if data.dtype in (torch.float32, torch.float64) else data.float()
        return x, _TorchOps, str(data.dtype).split(".")[-1]
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as e:
        raise TransformError(f"data are not an array of numbers ({e})") from None
    if arr.dtype.kind == "c":
        raise TransformError(f"Complex data not supported (dtype {arr.dtype}): data must be real numbers")
    if arr.dtype.kind not in "biuf":
        raise TransformError(f"data of dtype {arr.dtype} are not real numbers")
    dtype = np.float64 if arr.dtype == np.float64 else np.float32
    return np.ascontiguousarray(arr, dtype=dtype), _NumpyOps, arr.dtype.name


def _checked_data(data, what):
    x, ops, source = _as_array(data)
    if ops.numel(x) == 0:
        raise TransformError(f"cannot {what} empty data")
    if not ops.all_finite(x):
        raise TransformError(f"data to {what} contain NaN or infinity")
    return x, ops, source


class _NumpyOps:
    """The array operations the transforms use, on numpy arrays (no torch)."""
    numel = staticmethod(np.size)
    log, exp, reciprocal, full_like = np.log, np.exp, np.reciprocal, np.full_like
    cumsum, np_log = staticmethod(np.cumsum), staticmethod(np.log)
    all_finite = staticmethod(lambda x: bool(np.isfinite(x).all()))
    double = staticmethod(lambda x: np.asarray(x, dtype=np.float64))
    like = staticmethod(lambda x, ref: np.asarray(x, dtype=ref.dtype))
    clamp = staticmethod(lambda x, lo=None, hi=None: np.clip(x, lo, hi))
    host32 = staticmethod(lambda x: np.asarray(x, dtype=np.float32))
    flat64 = staticmethod(lambda x: np.asarray(x, dtype=np.float64).ravel())
    first_reaching = staticmethod(lambda cdf, value: np.float32(np.searchsorted(cdf, np.float32(value))))
    key = staticmethod(lambda like: (like.dtype, None))
    const = staticmethod(lambda v, dtype, device: np.asarray(v, dtype=dtype))

    @staticmethod
    def mean_std(x):
        return float(x.mean(dtype=np.float64)), float(x.std(dtype=np.float64, ddof=1)) if x.size > 1 else 0.0

    @staticmethod
    def pdf(x):
        hist = np.histogram(x, BINS, (float(x.min()), float(x.max())))[0].astype(np.float32)
        return hist / hist.sum()


class _TorchOps:
    """The same operations on torch tensors: the reference's own (its values, bit for bit)."""

    @staticmethod
    def torch():
        import torch
        return torch

    numel = staticmethod(lambda x: x.numel())
    all_finite = staticmethod(lambda x: bool(x.isfinite().all()))
    log, exp = staticmethod(lambda x: x.log()), staticmethod(lambda x: x.exp())
    reciprocal = staticmethod(lambda x: x.reciprocal())
    full_like = staticmethod(lambda x, v: _TorchOps.torch().full_like(x, v))
    double = staticmethod(lambda x: x.double())
    like = staticmethod(lambda x, ref: x.to(ref.dtype))
    clamp = staticmethod(lambda x, lo=None, hi=None: x.clamp(lo, hi))

    host32 = staticmethod(lambda x: x.detach().cpu().float())
    flat64 = staticmethod(lambda x: x.detach().cpu().double().flatten().numpy())
    cumsum = staticmethod(lambda x: x.cumsum(0))
    np_log = staticmethod(lambda m: _TorchOps.torch().tensor(np.log(m.cpu().numpy())))

    @staticmethod
    def mean_std(x):
        return float(x.mean()), float(x.std()) if x.numel() > 1 else 0.0

    @staticmethod
    def pdf(x):
        hist = _TorchOps.torch().histc(x.flatten(), bins=BINS, min=float(x.min()), max=float(x.max()))
        return hist / hist.sum()

    @staticmethod
    def first_reaching(cdf, value):
        torch = _TorchOps.torch()
        return torch.searchsorted(cdf, torch.tensor(value, dtype=cdf.dtype)).float()

    key = staticmethod(lambda like: (like.dtype, like.device))
    const = staticmethod(lambda v, dtype, device: _TorchOps.torch().tensor(v, dtype=dtype, device=device))


# The reference keeps fitted parameters as float32 tensors, so each sum of them rounds in float32. They
# are made here once per (values, dtype, device), as 0-d arrays in the data's dtype and on its device:
# no host-to-device copy inside a training step, and nothing for a CUDA graph to trip over.

@functools.lru_cache(maxsize=256)
def _cached_constants(derive, ops, values, dtype, device):
    return derive(ops, *(ops.const(v, dtype, device) for v in values))


def _constants(derive, ops, values, like):
    return _cached_constants(derive, ops, values, *ops.key(like))


def _range01(ops, data, lo, hi):
    """Min-max to [0, 1]; constant data maps to the centre (0.5) instead of 0 / 0."""
    if hi == lo:
        return ops.full_like(data, 0.5)
    return (data - lo) / (hi - lo)


# ---- the transforms ----

class Transform:
    """What the four transforms share: options checked and kept as given (scikit-learn's way), the
    fitted numbers in `params`, and the numpy / torch plumbing around each one's math."""
    name = ""
    KEYS = ()  # the fitted numbers that transform and inverse_transform need
    OPTIONS = {}  # option -> the interval check_number holds it to (None allowed where it is "derive")
    PARAMS = {}  # fitted number -> its interval, for from_params; absent: any finite number

    def __new__(cls, *args, **options):
        try:  # an unknown or positional option: TransformError, as for a bad value (not Python's TypeError)
            inspect.signature(cls).bind(*args, **options)
        except TypeError as e:
            raise TransformError(f"{cls.__name__}: {e} (options, by keyword: "
                                 f"{', '.join(inspect.signature(cls).parameters)})") from None
        return super().__new__(cls)

    def _init(self, **options):
        self.set_params(**options)
        self._params = {}

    def _check_option(self, k, v):
        if k not in self.OPTIONS:
            raise TransformError(f"{type(self).__name__}: no option {k!r} (options: {', '.join(self.OPTIONS)})")
        if v is None and k in ("levels", "lo"):
            return
        check_number(type(self).__name__, k, v, **self.OPTIONS[k])

    def get_params(self, deep=True):
        """The constructor's options as given (scikit-learn's estimator interface)."""
        return {k: getattr(self, k) for k in inspect.signature(type(self)).parameters}

    def set_params(self, **options):
        for k, v in options.items():
            self._check_option(k, v)
        self.__dict__.update(options)
        return self

    def __repr__(self):
        defaults = {k: p.default for k, p in inspect.signature(type(self)).parameters.items()}
        given = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults[k])
        return f"{type(self).__name__}({given})"

    def __getattr__(self, attr):
        # Fitted numbers read as scikit-learn's trailing-underscore attributes: tf.gamma_, tf.min_.
        if attr.endswith("_") and not attr.startswith("_"):
            params = self.__dict__.get("_params") or {}
            if attr[:-1] in params:
                return params[attr[:-1]]
            if attr[:-1] in self.KEYS:
                raise AttributeError(f"{type(self).__name__}.{attr} is set by fit(data): call fit first")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def __sklearn_is_fitted__(self):
        return all(k in self._params for k in self.KEYS)

    def __sklearn_tags__(self):
        """Only scikit-learn calls this, so its classes are loaded already (this file never imports it)."""
        u = sys.modules["sklearn.utils"]
        return u.Tags(estimator_type="transformer", target_tags=u.TargetTags(required=False),
                      transformer_tags=u.TransformerTags(preserves_dtype=["float64", "float32"]),
                      input_tags=u.InputTags())

    def fit(self, data, y=None):
        """Fit to `data` (numpy or torch, any shape, one distribution); `y` is scikit-learn's, ignored."""
        x, ops, source = _checked_data(data, "fit")
        units = self._units(x, source) if "levels" in self.OPTIONS else ()  # min-max and z-score need none
        params = self._fit(x, ops, *units)
        bad = [k for k in self.KEYS if not math.isfinite(params[k])]
        if bad:
            raise TransformError(f"{self.name}: the fit of these data with these options gives a non-finite "
                                 f"{', '.join(bad)} ({self!r})")
        self._params = params
        self._check_usable((float(x.min()), float(x.max())))
        return self

    def _check_usable(self, data_range=None):
        """TransformError unless the target range's ends and middle map back and forth in float32 and the
        data's own ends to distinct targets: else a network would get NaN, inf or a constant without a word."""
        p = self._params
        constant = p["std"] == 0 if "std" in p else p["max"] == p["min"] and not p.get("left") and not p.get("right")
        shift, scale = p.get("shift", SHIFT), p.get("scale", SCALE)
        targets = (np.array([0.0, 0.5, 1.0]) + shift) * scale  # the bottom, middle and top of the target range
        with np.errstate(all="ignore"):
            ends = np.asarray(self._inverse(targets, _NumpyOps), dtype=np.float64)
            back = np.asarray(self._forward(ends.astype(np.float32), _NumpyOps), dtype=np.float64) \
                if np.isfinite(ends.astype(np.float32)).all() else np.array([np.nan])
            own = self._forward(np.array(data_range, np.float32), _NumpyOps) if data_range else (0, 1)
        if not np.isfinite(back).all() or (not constant and np.abs(back - targets).max() > 1e-2 * abs(scale)) \
                or (data_range and data_range[0] != data_range[1] and own[0] == own[1]):
            raise TransformError(f"{self.name}: the fitted numbers {self.params} overflow or squeeze distinct "
                                 f"values into one target in float32 ({self!r})")

    def transform(self, data):
        """Data to the network's target domain, in the caller's kind (numpy or torch)."""
        self._check_fitted()
        x, ops, _ = _checked_data(data, "transform")
        return self._forward(x, ops)

    def inverse_transform(self, data):
        """A prediction back to the data's units. NaN in gives NaN out: a diverged network's is the caller's."""
        self._check_fitted()
        x, ops, _ = _as_array(data)
        return self._inverse(x, ops)

    def fit_transform(self, data, y=None):
        return self.fit(data).transform(data)

    forward, inverse = transform, inverse_transform  # the project's names

    def _check_fitted(self):
        if not self.__sklearn_is_fitted__():
            raise TransformError(f"{self.name}: call fit(data) (or from_params) before transform / inverse")

    def _units(self, x, source):
        """(levels, lo): the data's full-scale range and its bottom, as stated or read off the dtype."""
        levels, lo = getattr(self, "levels", None), getattr(self, "lo", None)
        if levels is not None:
            return float(levels), float(lo or 0.0)
        if source in DTYPE_RANGES:
            lo_d, levels_d = DTYPE_RANGES[source]
        elif source.startswith(("float", "bfloat")):
            lo_d, levels_d = FLOAT_RANGE[0], FLOAT_RANGE[1] - FLOAT_RANGE[0]
            mn, mx = float(x.min()), float(x.max())
            if mn < FLOAT_RANGE[0] or mx > FLOAT_RANGE[1]:
                audio = "levels=2, lo=-1" if "lo" in self.OPTIONS else "levels=2"
                raise TransformError(f"{self.name}: float data span [{mn:g}, {mx:g}], outside [0, 1]: say their "
                                     f"units with levels= (256 for 8-bit values as floats; {audio} for [-1, 1])")
        else:
            raise TransformError(f"{self.name}: {source} data: their full-scale range is not in the dtype; "
                                 f"say it with levels= (256 for 8-bit values, 65536 for 16-bit)")
        return float(levels_d), float(lo_d if lo is None else lo)

    @property
    def params(self):
        return dict(self._params)

    @classmethod
    def from_params(cls, params):
        """A fitted transform from `params` (a dict as `params` gives it); each number is checked."""
        if not isinstance(params, dict):
            raise TransformError(f"{cls.name}: from_params takes a dict of fitted numbers "
                                 f"(got {type(params).__name__})")
        missing = [k for k in cls.KEYS if k not in params]
        if missing:
            raise TransformError(f"{cls.name}: parameters lack {', '.join(missing)}")
        unknown = [str(k) for k in params if k not in cls.KEYS + cls.OPTIONAL]  # another transform's fit, say
        if unknown:
            raise TransformError(f"{cls.name}: no fitted number {', '.join(unknown)} "
                                 f"(its numbers: {', '.join(cls.KEYS + cls.OPTIONAL)})")
        fitted = {k: check_number(cls.name, f"parameter {k}", params[k], **cls.PARAMS.get(k, {}))
                  for k in cls.KEYS + cls.OPTIONAL if k in params and (k in cls.KEYS or params[k] is not None)}
        if "min" in fitted and fitted["min"] > fitted["max"]:
            raise TransformError(f"{cls.name}: parameter min ({fitted['min']:g}) is above max ({fitted['max']:g})")
        if fitted.get("scale", 1.0) == 0:
            raise TransformError(f"{cls.name}: parameter scale must be a nonzero finite number (got 0)")
        t = cls(**{k: fitted[k] for k in ("shift", "scale") if k in inspect.signature(cls).parameters})
        t._params = {k: fitted.get(k) for k in params}  # in its order; an optional None stays None
        t._check_usable()
        return t

    OPTIONAL = ()  # fitted values kept by from_params but not needed to transform (sym-power's gamma_half)

    def as_module(self):
        """A differentiable torch.nn.Module with this fit in float64 buffers (state_dict, .to(device)),
        the same values as transform (`forward`) / inverse_transform (`inverse`)."""
        self._check_fitted()
        return _module_class()(self)


# The options' ranges are main.py's (opt.RULES; tests/test_sympower.py holds them equal), where the
# method stops making sense: a shift beyond 100 drowns the data's levels in float32, a scale under 1e-6
# underflows the loss (0 cannot be inverted), and so on.
AFFINE = {"shift": {"lo": -100.0, "hi": 100.0}, "scale": {"lo": 1e-6, "hi": 1e6, "magnitude": True}}


class MinMax(Transform):
    """Min-max to [0, 1], then the affine shift-then-scale: y = (x01 + shift) * scale."""
    name = "min_max"
    KEYS = ("shift", "scale", "min", "max")
    OPTIONS = AFFINE

    def __init__(self, *, shift=SHIFT, scale=SCALE):
        self._init(shift=shift, scale=scale)

    def _fit(self, x, ops, levels=None, lo=None):
        return {"shift": float(self.shift), "scale": float(self.scale), "min": float(x.min()), "max": float(x.max())}

    def _forward(self, x, ops):
        p = self._params
        return (_range01(ops, x, p["min"], p["max"]) + p["shift"]) * p["scale"]

    def _inverse(self, y, ops):
        p = self._params
        return (y / p["scale"] - p["shift"]) * (p["max"] - p["min"]) + p["min"]


class ZScore(Transform):
    """(x - mean) / (std + 1e-5), std the unbiased sample deviation, as the reference."""
    name = "z_score"
    KEYS = ("mean", "std")
    PARAMS = {"std": {"lo": 0.0}}

    def __init__(self):
        self._init()

    def _fit(self, x, ops, levels=None, lo=None):
        mean, std = ops.mean_std(x)
        return {"mean": mean, "std": std}

    def _forward(self, x, ops):
        mean, spread = _constants(_zscore_constants, ops, (self._params["mean"], self._params["std"]), like=x)
        return (x - mean) / spread

    def _inverse(self, y, ops):
        mean, spread = _constants(_zscore_constants, ops, (self._params["mean"], self._params["std"]), like=y)
        return y * spread + mean


UNITS = {"levels": {"lo": 0.0, "hi": 2.0 ** 64, "lo_open": True, "note": " or None (from the dtype)"},
         "lo": {"lo": -2.0 ** 64, "hi": 2.0 ** 64, "note": " or None (from the dtype)"}}


class BoxCox(Transform):
    """Offset (box_shift x levels above lo: the reference's x + 25.6 for 8-bit images), Box-Cox with lambda by
    maximum likelihood, min-max, shift/scale. The inverse runs in float64: with strongly negative lambda
    (DIV2K image 11: -2.96) the float32 power overflows."""
    name = "box_cox"
    KEYS = ("offset", "shift", "scale", "lmbda", "min", "max")
    OPTIONS = {"box_shift": {"lo": 0.0, "hi": 100.0, "note": " (times the full-scale range)"}, **AFFINE, **UNITS}

    def __init__(self, *, box_shift=0.1, shift=SHIFT, scale=SCALE, levels=None, lo=None):
        self._init(box_shift=box_shift, shift=shift, scale=scale, levels=levels, lo=lo)

    def _fit(self, x, ops, levels, lo):
        # box_shift x 256 intensity levels of 8-bit data, scaled with the full-scale range
        offset = float(self.box_shift) * 256 * levels / 256 - lo
        u, counts = _value_counts(ops.flat64(x))
        v = u + offset  # the distinct values offset, ascending: the likelihood needs nothing else
        if v[0] <= 0:
            raise TransformError(f"box_cox needs data above {-offset:g} (min is {v[0] - offset:g}): "
                                 f"raise box_shift or say the data's range with levels and lo")
        if len(v) == 1:
            lam, y = 1.0, v[[0, -1]] - 1.0  # constant data: any lambda fits; take the identity's
        else:
            try:
                lam = _boxcox_lambda(v, counts)
            except (ValueError, RuntimeError) as e:  # its maximum-likelihood search found no lambda
                raise TransformError(f"box_cox: no lambda fits these data with this offset ({e}); say their "
                                     f"units with levels= and lo=") from None
            from scipy import special

            y = special.boxcox(v[[0, -1]], lam)  # increasing in v: the targets' extremes
            if y.max() == y.min():  # distinct data, one target: (x + offset) ** lambda vanished beside 1
                raise TransformError(f"box_cox: its maximum-likelihood lambda ({lam:g}) maps these data to one value "
                                     f"(x + offset in [{v.min():g}, {v.max():g}]); say their units with levels= and lo=")
        return {"offset": offset, "shift": float(self.shift), "scale": float(self.scale), "lmbda": float(lam),
                "min": float(y.min()), "max": float(y.max())}

    def _forward(self, x, ops):
        p = self._params
        if float(x.min()) + p["offset"] <= 0:
            raise TransformError(f"box_cox: data to transform must lie above {-p['offset']:g} "
                                 f"(min is {float(x.min()):g})")
        lam, z = p["lmbda"], ops.double(x) + p["offset"]
        bc = ops.log(z) if lam == 0 else (z ** lam - 1) / lam
        return ops.like((_range01(ops, bc, p["min"], p["max"]) + p["shift"]) * p["scale"], x)

    def _inverse(self, y, ops):
        p = self._params
        z = ops.clamp(ops.double(y) / p["scale"] - p["shift"], 0.0, 1.0) * (p["max"] - p["min"]) + p["min"]
        lam = p["lmbda"]
        x = ops.exp(z) if lam == 0 else ops.clamp(lam * z + 1, 0) ** (1 / lam)
        return ops.like(x - p["offset"], y)


def _value_counts(x):
    """The distinct values of x (ascending) and their counts: by bincount for 8- and 16-bit data, else sorting."""
    lo, hi = x.min(), x.max()
    if hi - lo <= 65536 and np.array_equal(x, np.round(x)):
        counts = np.bincount((x - lo).astype(np.int64))
        k = np.flatnonzero(counts)
        return k + lo, counts[k]
    return np.unique(x, return_counts=True)


def _boxcox_lambda(values, counts):
    """scipy.stats.boxcox's lambda from the distinct values weighted by their counts (scipy's boxcox_llf,
    Brent from (-2, 2)): an 8-bit image costs 256 values per evaluation instead of every pixel."""
    from scipy import optimize, special, stats

    logv, n = np.log(values), counts.sum()
    log_sum = float(np.dot(counts, logv))

    def neg_llf(lmb):
        if lmb == 0:
            mean = np.dot(counts, logv) / n
            logvar = np.log(np.dot(counts, (logv - mean) ** 2) / n)
        else:
            logx = lmb * logv
            logmean = special.logsumexp(logx, b=counts) - math.log(n)
            logxmu, _ = special.logsumexp(np.stack((logx, np.full_like(logx, logmean))), axis=0,
                                          b=np.array([[1.0], [-1.0]]), return_sign=True)
            logvar = special.logsumexp(2 * logxmu, b=counts) - math.log(n) - 2 * math.log(abs(lmb))
        return -((lmb - 1) * log_sum - n / 2 * logvar)

    lam = optimize.brent(neg_llf, brack=(-2.0, 2.0))
    return float(stats.boxcox_normmax(values, method="mle", optimizer=lambda f: optimize.OptimizeResult(x=lam)))


class SymPower(Transform):
    """The paper's method: y = (((x - (min - L)) / (max - min + L + R)) ** gamma + shift) * scale. gamma_half
    puts the pn_cum quantile at the centre; calibration (pn_beta) pulls gamma towards 1 where the power piles
    mass into an extreme; gamma is clamped to [1/gamma_boundary, gamma_boundary]; the soft boundary (pn_alpha,
    pn_k) widens the range by L and R in proportion to the tails' mass, so the extremes are not pinned to -1, 1.
    Ablations: pn_beta <= 0: no calibration; pn_buffer >= 0: L = R = pn_buffer * (max - min); gamma_trans > 0
    forces gamma, without the boundary (the gamma rows)."""
    name = "sym_power"
    KEYS = ("shift", "scale", "min", "max", "gamma", "left", "right")
    OPTIONAL = ("gamma_half",)
    # pn_alpha may be 0 here (no soft boundary, as protocol.md defines it); main.py asks for a bin or more
    OPTIONS = {"pn_cum": {"lo": 0.01, "hi": 0.99, "note": " (a cdf level)"},
               "pn_buffer": {"lo": 0.0, "hi": 10.0, "off": "< 0", "note": " (times the data range)"},
               "pn_alpha": {"lo": 0.0, "hi": 0.5, "note": " (a fraction of the 256 bins)"},
               "pn_k": {"lo": 0.0, "hi": 4096.0, "note": " (levels per unit tail mass)"},
               "pn_beta": {"lo": 1 / 256, "hi": 1.0, "off": "<= 0", "note": " (a fraction of the 256 bins)"},
               "gamma_boundary": {"lo": 1.0, "hi": 20.0},
               # 0 or 1e-30 would make every target one value
               "gamma_trans": {"lo": 0.05, "hi": 20.0, "off": "< 0", "note": " (a forced gamma)"},
               **AFFINE, "levels": UNITS["levels"]}
    # gamma_half: None where gamma_trans forced gamma; 0 where the first bin holds pn_cum of the mass
    PARAMS = {"gamma": {"lo": 0.0, "lo_open": True}, "left": {"lo": 0.0}, "right": {"lo": 0.0},
              "gamma_half": {"lo": 0.0, "note": " or None"}}

    def __init__(self, *, pn_cum=0.5, pn_buffer=-1.0, pn_alpha=0.01, pn_k=256.0, pn_beta=0.05, gamma_boundary=5.0,
                 gamma_trans=-1.0, shift=SHIFT, scale=SCALE, levels=None):
        self._init(pn_cum=pn_cum, pn_buffer=pn_buffer, pn_alpha=pn_alpha, pn_k=pn_k, pn_beta=pn_beta,
                   gamma_boundary=gamma_boundary, gamma_trans=gamma_trans, shift=shift, scale=scale, levels=levels)

    def _units(self, x, source):
        if source == "bool":
            raise TransformError("sym_power: bool data hold two values, which a power cannot redistribute and "
                                 "its soft boundary squeezes together; fit a two-level signal with MinMax")
        return super()._units(x, source)

    def _gamma_half(self, pdf, ops):
        """Median centring: the first bin whose cdf reaches pn_cum, as a fraction m of the range."""
        m = ops.first_reaching(ops.cumsum(pdf), self.pn_cum) / BINS
        # log(0.5) / log(m) exactly as the reference evaluates np.log(0.5) / np.log(m): numpy's float32
        # log (not torch's, which differs by an ulp for a fifth of the bins), and numpy's float64 over a
        # tensor dispatches to Tensor.__rtruediv__, a reciprocal times the scalar. Otherwise gamma can be
        # one float32 ulp off, enough to change a chaotic fit such as Gauss's.
        return ops.reciprocal(ops.np_log(m)) * math.log(0.5)

    def _calibrate(self, x, pdf, gamma_half, ops):
        """Deviation-aware calibration: d = extra mass the power moves into the extreme bins / beta."""
        beta = self.pn_beta
        n = int(beta * BINS)
        powered_pdf = ops.pdf(((x - x.min()) / (x.max() - x.min())) ** gamma_half)
        edge = slice(None, n) if gamma_half > 1 else slice(BINS - n, None)  # not -n: n may be 0
        d = (powered_pdf[edge].sum() - pdf[edge].sum()) / beta
        # d < 0 (mass moved out of the extreme) is applied as is: it moves gamma away from 1 (protocol.md).
        if gamma_half >= 1:
            return gamma_half - (gamma_half - 1) * ops.clamp(d, None, 1)
        return 1 / (1 / gamma_half - (1 / gamma_half - 1) * ops.clamp(d, None, 1))

    def _fit(self, data, ops, levels, lo):
        x = ops.host32(data)
        lo_x, hi_x = float(x.min()), float(x.max())
        p = {"shift": float(self.shift), "scale": float(self.scale), "min": lo_x, "max": hi_x, "gamma_half": None,
             "left": 0.0, "right": 0.0}
        if self.gamma_trans >= 0:
            return {**p, "gamma": float(self.gamma_trans)}
        if hi_x == lo_x:  # constant data: nothing to redistribute
            return {**p, "gamma": 1.0, "gamma_half": 1.0}
        pdf = ops.pdf(x)
        # m = 0 (the first bin already holds pn_cum of the mass: a two-level or mostly black image) gives
        # log 0 = -inf, gamma_half 0 and 1 / 0 in the calibration, as in the reference; gamma_boundary then
        # clamps gamma to its bound. The reference's numbers, so no numpy warning to the user.
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma_half = self._gamma_half(pdf, ops)
            gamma = self._calibrate(x, pdf, gamma_half, ops) if self.pn_beta > 0 else gamma_half
        bound = self.gamma_boundary
        gamma = min(bound, float(gamma)) if gamma > 1 else max(1 / bound, float(gamma))
        if self.pn_buffer < 0:
            # The tails are the first and last a bins. pdf[-a:] would be the whole histogram for a = 0
            # (pn_alpha < 1/256); protocol.md's definition (the mass of the last a bins) gives 0 there.
            # Table 1 never uses such a pn_alpha, so this changes no published number.
            a = int(self.pn_alpha * BINS)
            unit = self.pn_k * levels / 256  # pn_k intensity levels of 8-bit data, scaled with N / 256
            p.update(left=float(unit * pdf[:a].sum()), right=float(unit * pdf[BINS - a:].sum()))
        else:
            p.update(left=(hi_x - lo_x) * self.pn_buffer, right=(hi_x - lo_x) * self.pn_buffer)
        return {**p, "gamma": float(gamma), "gamma_half": float(gamma_half)}

    def _forward(self, x, ops):
        p = self._params
        edge, width, gamma, _ = _constants(_sym_power_constants, ops, tuple(p[k] for k in SYM_POWER_KEYS), like=x)
        if p["max"] - p["min"] + p["left"] + p["right"] == 0:  # constant data: the centre of the range
            return ops.full_like(x, (0.5 + p["shift"]) * p["scale"])
        if float(x.min()) < float(edge):  # a negative base: NaN targets
            raise TransformError(f"sym_power: data to transform must lie at or above {p['min'] - p['left']:g}, "
                                 f"the fitted range's bottom (min is {float(x.min()):g})")
        return (((x - edge) / width) ** gamma + p["shift"]) * p["scale"]

    def _inverse(self, y, ops):
        p = self._params
        edge, width, _, inv_gamma = _constants(_sym_power_constants, ops, tuple(p[k] for k in SYM_POWER_KEYS), like=y)
        return ops.clamp(y / p["scale"] - p["shift"], 0.0, 1.0) ** inv_gamma * width + edge


SYM_POWER_KEYS = ("min", "max", "gamma", "left", "right")


def _sym_power_constants(ops, mn, mx, gamma, left, right):
    """(min - L, max - min + (L + R), gamma, 1 / gamma), summed in the reference's order."""
    return mn - left, mx - mn + (left + right), gamma, ops.reciprocal(gamma)


def _zscore_constants(ops, mean, std):
    return mean, std + 1e-5


TRANSFORMS = {cls.name: cls for cls in (MinMax, ZScore, BoxCox, SymPower)}


@functools.lru_cache(maxsize=None)
def _module_class():
    """TransformModule, made on first use so that importing this file does not import torch."""
    import torch

    class TransformModule(torch.nn.Module):
        """A fitted transform in float64 buffers; loading another fit's state_dict makes it that fit."""

        def __init__(self, tf):
            super().__init__()
            self.kind = type(tf)
            for k in tf.KEYS:
                self.register_buffer(k, torch.tensor(tf.params[k], dtype=torch.float64))
            self._made = (None, None)

        def _transform(self):
            # The transform is rebuilt from the buffers when they change (load_state_dict, .to(device)).
            key = tuple((id(b), b._version) for b in self.buffers(recurse=False))
            if self._made[0] != key:
                self._made = key, self.kind.from_params({k: float(b) for k, b in self.named_buffers(recurse=False)})
            return self._made[1]

        def forward(self, x):
            x, ops, _ = _as_array(x)
            return self._transform()._forward(x, ops)

        def inverse(self, y):
            y, ops, _ = _as_array(y)
            return self._transform()._inverse(y, ops)

        def extra_repr(self):
            return self.kind.name + ": " + ", ".join(f"{k}={float(b):.6g}" for k, b in self.named_buffers(recurse=False))

    TransformModule.__qualname__, TransformModule.__module__ = "TransformModule", __name__  # pickled by name
    return TransformModule


def __getattr__(name):
    # sympower.TransformModule exists once asked for (torch.save of a whole module finds it by name)
    if name == "TransformModule":
        return _module_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The data transforms of Table 1 as this project runs them: options to a transform (`build`), the
rows that change the data rather than the mapping (`prepare_data`: inverse, rpp), the Attributes
columns, a checkpoint's transform (`restore`), and an inspector. The transforms themselves are the
standalone library components/sympower.py.

    python -m components.transform PATH [--transform ROW]   # fitted params and attributes as JSON
"""
import json
import sys

import numpy as np
import torch

from components.sympower import TRANSFORMS, BoxCox, MinMax, SymPower, Transform, TransformError, ZScore  # noqa: F401
from util.declarations import OPTIONS

LEVELS = 256.0  # the nominal full-scale range a run assumes unless its data say otherwise: 8-bit
SEEDS = (0, 2 ** 32 - 1)  # the inspector's --seed, as main.py's (opt.RULES: what numpy's generator takes)
# The transforms' command-line options (main.py's, named as the reference's) with their defaults
OPTION_DEFAULTS = {o.name: o.default for o in OPTIONS if o.group == "transform" and o.name != "transform"}


def build(opts, levels=LEVELS, lo=0.0):
    """An unfitted transform from main.py's options (or OPTION_DEFAULTS and a Table 1 row) for data whose
    nominal range starts at `lo` and spans `levels` (256 for 8-bit images, 2 for [-1, 1])."""
    name = opts["transform"]
    shift, scale = opts["trans_shift"], opts["trans_scale"]
    if name == "min_max":
        return MinMax(shift=shift, scale=scale)
    if name == "z_score":
        return ZScore()
    if name == "box_cox":
        return BoxCox(box_shift=opts["box_shift"], shift=shift, scale=scale, levels=levels, lo=lo)
    if name == "sym_power":
        keys = ("pn_cum", "pn_buffer", "pn_alpha", "pn_k", "pn_beta", "gamma_boundary", "gamma_trans")
        return SymPower(**{k: opts[k] for k in keys}, shift=shift, scale=scale, levels=levels)
    raise TransformError(f"unknown transform '{name}' (valid: {', '.join(TRANSFORMS)})")


def restore(state):
    """Rebuild a fitted transform from {"name": ..., "params": {...}} (as stored in a checkpoint)."""
    name = state.get("name") if isinstance(state, dict) else state
    if not isinstance(name, str) or name not in TRANSFORMS:
        raise TransformError(f"unknown transform {str(name)[:40]!r} in checkpoint")
    if not isinstance(state.get("params"), dict):
        raise TransformError(f"transform '{state['name']}' in checkpoint has no parameters")
    return TRANSFORMS[state["name"]].from_params(state["params"])


def prepare_data(data, opts, nominal, generator=None, perm=None):
    """The data-changing rows: `inverse` (lo + hi - x: 255 - x for 8-bit) and `rpp` (one permutation of the
    positions of (C, ...) data, shared by the channels). Returns (data, permutation or None). Unless `perm`
    (a stored one) is given, it is drawn from torch's global stream after the LPIPS network, as the reference."""
    if opts.get("inverse"):
        data = (nominal.lo + nominal.hi) - data
    if opts.get("rpp") or perm is not None:
        c = data.shape[0]
        if perm is None:
            perm = torch.randperm(data[0].numel(), generator=generator)
        _check_permutation(perm, data[0].numel())
        data = data.reshape(c, -1)[:, perm].reshape(data.shape)
    return data, perm


def _check_permutation(perm, n):
    """A stored permutation must be one of the n positions (a checkpoint's may be hand-edited)."""
    if (not isinstance(perm, torch.Tensor) or perm.dtype != torch.int64 or perm.shape != (n,)
            or not torch.equal(torch.sort(perm).values, torch.arange(n))):
        what = f"{perm.dtype} tensor of shape {tuple(perm.shape)}" if isinstance(perm, torch.Tensor) else type(perm).__name__
        raise TransformError(f"rpp: the permutation must be a permutation of the {n} positions (got a {what})")


def restore_data(data, opts, nominal, perm=None):
    """Undo `prepare_data`: put permuted pixels back and un-invert, giving the signal itself."""
    if perm is not None:
        _check_permutation(perm, data[0].numel())
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
    d = v - v.mean()  # scipy.stats.skew's biased m3 / m2^1.5 (tests/test_transform.py), without importing scipy.stats
    m2 = float(np.mean(d * d))
    skew = float(np.mean(d * d * d)) / m2 ** 1.5 if m2 > 0 else 0.0
    return {"std": float(v.std()), "skew": skew, "range": float((v.max() - v.min()) / 2)}


def attributes_of_images(images, opts):
    """Table 1's Attributes of an option dict (main.py's, or a run's args.json): the mean over images,
    (data, nominal) pairs as util.io.read_image gives them, each prepared and transformed as a run does."""
    rows = []
    for data, nominal in images:
        data, _ = prepare_data(data, opts, nominal, torch.Generator().manual_seed(0))  # rpp: order-free
        rows.append(attributes(build(opts, nominal.levels, nominal.lo).fit(data).forward(data)))
    return {k: float(np.mean([r[k] for r in rows])) for k in ("std", "skew", "range")}


def inspector_params(t):
    """sym-power's parameters in the names of the reference vectors (its shift and scale are the row's)."""
    p = t.params
    return {k: p[k] for k in ("gamma", "gamma_half", "left", "right", "min", "max")} if isinstance(t, SymPower) else p


def _main(argv=None):
    # The command-line tool reads files and draws plots with the project's helpers; the library needs none.
    from components.rows import ROWS
    from util.cli import Parser
    from util.errors import EXIT_USAGE, UserError
    from util.io import IMAGE_EXTS, list_samples, read_image, sample_name
    from util.plot import MAX_ROWS as PLOT_ROWS, plot_format

    ap = Parser(prog="python -m components.transform",
                description="Fit a Table 1 transform to images; print its parameters and the "
                            "transformed data's attributes as JSON lines.")
    ap.add_argument("path", help="an image file or a folder of images")
    ap.add_argument("--transform", default="sym_power", help=f"Table 1 row: {', '.join(ROWS)}")
    ap.add_argument("--seed", type=int, default=3407, help="seed of the rpp permutation")
    ap.add_argument("--plot", default=None, metavar="OUT.png",
                    help="histograms before / after and the transform curve (a folder: its first few files), in "
                         "the format the suffix names (.png, .pdf, .svg, .jpg, ...)")
    args = ap.parse_args(argv)
    if args.transform not in ROWS:
        ap.exit(EXIT_USAGE, f"error: unknown transform row '{args.transform}' (valid: {', '.join(ROWS)})\n")
    if not SEEDS[0] <= args.seed <= SEEDS[1]:
        ap.exit(EXIT_USAGE, f"error: --seed must be in [0, 2**32 - 1] (got {args.seed})\n")
    if args.plot:
        try:
            plot_format(args.plot)  # before the work, not after it
        except UserError as e:
            ap.exit(EXIT_USAGE, f"error: {e}\n")
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
            from util.plot import save_figure, transform_figure

            save_figure(transform_figure(panels, args.transform), args.plot, dpi=80)
            more = f"; first {len(panels)} of {len(files)} files" if len(files) > len(panels) else ""
            print(f"plot: {args.plot} ({', '.join(p[0] for p in panels)}{more})", file=sys.stderr)
    except (UserError, TransformError, OSError) as e:
        ap.exit(EXIT_USAGE, f"error: {e}\n")
    if len(files) > 1 or len(rows) > 1:
        mean = {k: float(np.mean([r[k] for r in rows])) for k in ("std", "skew", "range")}
        print(json.dumps({"file": "mean", "transform": args.transform, **mean}))


if __name__ == "__main__":
    from util.heap import leave

    _main()
    leave(0)

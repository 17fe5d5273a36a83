"""Command-line options: the reference's names and defaults (protocol.md), plus this project's own."""
import argparse
import math

from components.transform import ROWS, TRANSFORMS
from models import MODELS
from trainer import SIGNAL_TYPES
from util.cli import Parser
from util.errors import OptionError


def build_parser():
    p = Parser(prog="main.py", description="Fit an INR to a signal passed through a data transform.")
    a = p.add_argument
    # base (reference)
    a("--seed", type=int, default=3407)
    a("--save_dir", default="./log", help="root of run folders")
    a("--tag", default="exp", help="run name prefix: <save_dir>/<up_folder_name>/<tag>_<time>_<random>/")
    a("--up_folder_name", default="debug", help="experiment folder under save_dir")
    a("--device", default=None, help="cuda, cuda:N or cpu (default: cuda when available, else cpu)")
    a("--log_epoch", type=int, default=500, help="compute metrics every this many epochs (and at the last)")
    a("--snap_epoch", type=int, default=5000, help="checkpoint every this many epochs (and at the last)")
    a("--snap_minutes", type=float, default=10.0,
      help="also checkpoint whenever this many minutes have passed since the last checkpoint (a kill loses at "
           "most this much)")
    a("--batch_size", type=int, default=4096,
      help="video: coordinates per step; the default 4096 means 1/16 of all pixels, at least 4096 (images and "
           "audio fit the full batch)")
    a("--num_epochs", type=int, default=5000)
    a("--lr", type=float, default=None, help="learning rate (default: the backbone's: siren 1e-4, finer 5e-4, "
                                             "pemlp 1e-3, gauss and wire 5e-3)")
    a("--multi_data", action="store_true",
      help="the reference's flag for a folder input, kept so its command lines (and run.py's, as protocol.md "
           "writes them) work; a folder is always fitted whole, with or without it")
    a("--input_path", default=None, help="a file, a folder, or builtin:chirp / builtin:astronaut_pan")
    a("--signal_type", default="image", choices=SIGNAL_TYPES)
    a("--eval_lpips", action="store_true", help="also compute LPIPS at log epochs (needs AlexNet weights)")
    # backbone (reference)
    a("--model_type", default="siren", choices=list(MODELS))
    a("--hidden_layers", type=int, default=3)
    a("--hidden_features", type=int, default=256)
    a("--first_omega", type=float, default=None, help="siren, finer, wire (default 30; audio 3000)")
    a("--hidden_omega", type=float, default=30.0, help="siren, finer, wire")
    a("--first_bias_scale", type=float, default=None, help="finer: first-layer bias ~ U(-k, k)")
    a("--scale_req_grad", action="store_true", help="finer: let the |z| + 1 factor carry gradient")
    a("--N_freqs", type=int, default=10, help="pemlp")
    a("--scale", type=float, default=30.0, help="gauss, wire")
    # transform (reference)
    a("--transform", default="min_max", choices=list(TRANSFORMS))
    a("--trans_shift", type=float, default=-0.5)
    a("--trans_scale", type=float, default=2.0)
    a("--pn_cum", type=float, default=0.5, help="sym_power: cdf level of median centring")
    a("--pn_buffer", type=float, default=-1.0, help="sym_power: <0 adaptive soft boundary; >=0 fixed buffer x range")
    a("--pn_alpha", type=float, default=0.01, help="sym_power: tail fraction of the adaptive boundary")
    a("--pn_k", type=float, default=256.0, help="sym_power: boundary length per unit tail mass (8-bit levels)")
    a("--pn_beta", type=float, default=0.05, help="sym_power: deviation-aware calibration width; <=0 turns it off")
    a("--gamma_boundary", type=float, default=5.0, help="sym_power: gamma is clamped to [1/b, b]")
    a("--gamma_trans", type=float, default=-1.0, help="sym_power: >=0 forces gamma (the gamma rows)")
    a("--box_shift", type=float, default=0.1, help="box_cox: offset x 256 levels")
    a("--inverse", action="store_true", help="fit lo + hi - x (the inverse row)")
    a("--rpp", action="store_true", help="random pixel permutation (the rpp row)")
    # this project
    a("--audio_seconds", type=float, default=5.0, help="audio: use at most the first this many seconds")
    a("--resume", default=None, metavar="RUN_DIR", help="continue an interrupted run in its own folder")
    a("--run_folder", default=None, metavar="DIR",
      help="the run folder to create, exactly (run.py chooses it); default <save_dir>/<up_folder_name>/<tag>_<time>_<rand>")
    a("--eval_ckpt", default=None, metavar="PATH",
      help="decode a checkpoint into a new run folder; a run folder or log tree: every run's last checkpoints")
    a("--trust_checkpoint", action="store_true",
      help="accept the reference's checkpoint format (its argparse.Namespace, nothing else)")
    a("--no_images", action="store_true", help="no TensorBoard pictures (huge sweeps)")
    a("--quiet", action="store_true", help="plain periodic progress lines instead of a bar")
    a("--eager", action="store_true", help="plain autograd training step (SIREN otherwise uses the fused step)")
    a("--tf32", action="store_true", help="GPU: TF32 matrix products (faster, less exact; off as in the reference)")
    a("--chunk_rows", type=chunk_rows, default="auto", metavar="auto|R",
      help="rows per forward + backward pass; the step (gradients, one Adam update) stays the full batch's. "
           "auto: chunk only when the full batch would not fit the memory budget; 0: never chunk")
    a("--memory_gb", type=float, default=None,
      help="memory budget of --chunk_rows auto, in GB (default: the device's free memory, less a margin)")
    return p


def chunk_rows(text):
    """--chunk_rows: 'auto' or a row count >= 0."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be auto or a row count >= 0 (got {text!r})")
    return value


def defaults():
    """Every option's default (this parser is their one source)."""
    return vars(build_parser().parse_args([]))


def row_options(row=None, **overrides):
    """The full option dict of a Table 1 row (or the defaults), with explicit overrides on top."""
    opts = defaults()
    if row is not None:
        if row not in ROWS:
            raise OptionError(f"unknown transform row '{row}' (valid: {', '.join(ROWS)})")
        opts.update(ROWS[row])
    opts.update({k: v for k, v in overrides.items() if v is not None})
    return opts


def _positive(v):
    return v > 0


def _non_negative(v):
    return v >= 0


# Every numeric option, with what it must be (all must also be finite). None (unset) is always fine.
RULES = {
    **{k: (_positive, "positive") for k in ("num_epochs", "log_epoch", "snap_epoch", "batch_size", "hidden_features",
                                            "lr", "first_omega", "hidden_omega", "scale", "audio_seconds",
                                            "snap_minutes")},
    **{k: (_non_negative, ">= 0") for k in ("hidden_layers", "N_freqs", "first_bias_scale", "pn_k", "box_shift")},
    **{k: (lambda v: True, "finite") for k in ("seed", "trans_shift", "pn_buffer")},  # pn_buffer < 0: adaptive
    "trans_scale": (lambda v: v != 0, "non-zero (the transform could not be inverted)"),
    "pn_cum": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "pn_alpha": (lambda v: 0 < v <= 1, "in (0, 1] (a fraction of the histogram)"),
    "pn_beta": (lambda v: v <= 1, "<= 1 (a fraction of the histogram; <= 0 turns calibration off)"),
    "gamma_boundary": (lambda v: v >= 1, ">= 1"),
    "memory_gb": (_positive, "positive"),
    "gamma_trans": (lambda v: v != 0, "positive (a forced gamma) or -1 (off); 0 would make every target constant"),
}


def check(args):
    """Reject option values that cannot work, each with a one-line reason that names the option."""
    if args.eval_ckpt is None and args.resume is None and not args.input_path:
        raise OptionError("--input_path is required (a file, a folder or builtin:...)")
    for name, (ok, rule) in RULES.items():
        v = getattr(args, name)
        if v is None:
            continue
        if not math.isfinite(v):
            raise OptionError(f"--{name} must be a finite number (got {v})")
        if not ok(v):
            raise OptionError(f"--{name} must be {rule} (got {v})")
    return args

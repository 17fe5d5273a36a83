"""Command-line options: the reference's names and defaults (protocol.md), plus this project's own.

A default of None is derived (`resolve`, before anything trains): the backbone's and the modality's
defaults (models.MODELS, components/signals.py's MODALITIES) fill it in, and the video batch is
derived from the data once it is read (trainer/run.py). args.json holds the resolved values.
Importing this module (run.py does, to check a task's options) loads no torch, which is why the
names of --transform, --model_type and --signal_type are checked by `resolve`, against their tables.
"""
import argparse
import ast
import functools
import math
import os
import re

from config import ROWS
from util.cli import Parser
from util.errors import OptionError
from util.records import within


HERE = os.path.dirname(os.path.abspath(__file__))
TRANSFORM_SOURCE = os.path.join(HERE, "components", "sympower.py")


def transform_defaults(path=TRANSFORM_SOURCE):
    """The transform options' defaults: the keyword defaults of the constructors in
    components/sympower.py (the paper's values; that file is the library researchers install or copy), read from
    its source rather than by importing it, because run.py checks a sweep's options with this parser and
    must not load torch. The same dict as transform.OPTION_DEFAULTS (tests/test_transform_library.py)."""
    return dict(_transform_defaults(path))


@functools.lru_cache(maxsize=None)  # the source of a running process's library does not change under it
def _transform_defaults(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names, kw = {}, {}
    for node in tree.body:  # module constants (SHIFT, SCALE = -0.5, 2.0), then each class's __init__
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], (ast.Name, ast.Tuple)):
            target, value = node.targets[0], node.value
            pairs = zip(target.elts, value.elts) if isinstance(target, ast.Tuple) else [(target, value)]
            for t, v in pairs:
                try:
                    names[t.id] = ast.literal_eval(v)
                except (ValueError, TypeError, AttributeError):  # not a plain number: no default is one
                    pass
        elif isinstance(node, ast.ClassDef):
            for f in node.body:
                if isinstance(f, ast.FunctionDef) and f.name == "__init__":
                    kw[node.name] = {a.arg: names[d.id] if isinstance(d, ast.Name) else ast.literal_eval(d)
                                     for a, d in zip(f.args.kwonlyargs, f.args.kw_defaults)}
    sym = kw["SymPower"]
    return {"trans_shift": kw["MinMax"]["shift"], "trans_scale": kw["MinMax"]["scale"],
            **{k: v for k, v in sym.items() if k.startswith(("pn_", "gamma_"))}, "box_shift": kw["BoxCox"]["box_shift"]}


# main.py --help's sections, in order (build_parser puts every option in one)
GROUPS = (("input", "the signal to fit"), ("model", "the INR backbone (the reference's options)"),
          ("transform", "the data transform (the reference's options; the paper's defaults)"),
          ("training", "the fit"), ("memory", "how a step is split into passes (trainer/memory.py)"),
          ("output", "the run folder, what is logged and how often"), ("run", "where it runs, resuming, decoding"))

# What each option is to a run: the one table that resume (trainer/run.py), checkpoints
# (trainer/checkpoint.py), TensorBoard's HParams (Run.finish) and the decoder read.
#   fit      what a run fits: a resume keeps args.json's, a checkpoint's must equal it; HParams columns
#   run      how it runs, not what it computes: a resume may give them (and logs that it uses them)
#   display  what is recorded and shown, and where: fixed when the run starts; never compared
# A new option is one line: its name added to its role's tuple here (a learning-rate schedule, say, to
# "fit"); tests/test_options.py fails while an option of build_parser has no role.
ROLES = {
    "fit": ("input_path", "signal_type", "audio_seconds",
            "model_type", "hidden_layers", "hidden_features", "first_omega", "hidden_omega", "first_bias_scale",
            "scale_req_grad", "N_freqs", "scale",
            "transform", "trans_shift", "trans_scale", "pn_cum", "pn_buffer", "pn_alpha", "pn_k", "pn_beta",
            "gamma_boundary", "gamma_trans", "box_shift", "inverse", "rpp",
            "seed", "num_epochs", "lr", "lr_schedule", "batch_size",
            "eval_lpips"),  # LPIPS's network is drawn before the model (protocol.md): it moves the draws
    "run": ("device", "quiet", "eager", "tf32", "chunk_rows", "memory_gb"),
    "display": ("save_dir", "up_folder_name", "tag", "run_folder", "log_epoch", "snap_epoch", "snap_minutes",
                "no_images", "resume", "eval_ckpt", "trust_checkpoint",
                "multi_data"),  # accepted for the published code's command lines; a folder is always fitted whole
}
ROLE = {name: role for role, names in ROLES.items() for name in names}


class DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default after its help, except where it is derived (default: the help says from what)
    or a flag's off."""

    def _get_help_string(self, action):
        return action.help if action.default in (None, False) else super()._get_help_string(action)


@functools.lru_cache(maxsize=None)
def table_names(path, table):
    """The names a table of the project's registers, read from its source (without importing torch, as
    transform_defaults): the keys of the dict literal `table` (models.py's MODELS, components/signals.py's
    MODALITIES), or for "TRANSFORMS" the `name` of every class that sets one (components/sympower.py).
    The --help names them; resolve checks a name against the table itself."""
    with open(os.path.join(HERE, path), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    if table == "TRANSFORMS":
        return tuple(a.value.value for c in tree.body if isinstance(c, ast.ClassDef) for a in c.body
                     if isinstance(a, ast.Assign) and [getattr(t, "id", None) for t in a.targets] == ["name"]
                     and isinstance(a.value, ast.Constant) and a.value.value)
    (value,) = [n.value for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == table]
    return tuple(k.value for k in value.keys)


def _names(path, table):
    names = table_names(path, table)
    return f"{', '.join(names[:-1])} or {names[-1]} ({path}'s {table})"


def build_parser():
    p = Parser(prog="main.py", description="Fit an INR to a signal passed through a data transform.",
               formatter_class=DefaultsShown)
    g = {name: p.add_argument_group(name, text) for name, text in GROUPS}
    a = g["input"].add_argument
    a("--input_path", default=None, help="a file, a folder (every sample in it is fitted), or builtin:chirp / "
                                         "builtin:astronaut_pan")
    a("--signal_type", default="image", help=_names("components/signals.py", "MODALITIES"))
    a("--multi_data", action="store_true",
      help="the published code's flag for a folder input, accepted so that its command lines run; a folder is "
           "always fitted whole, with or without it")
    a("--audio_seconds", type=float, default=5.0, help="audio: use at most the first this many seconds")
    a = g["model"].add_argument  # the reference's backbone options
    a("--model_type", default="siren", help=_names("models.py", "MODELS"))
    a("--hidden_layers", type=int, default=3, help="hidden layers between the first and the last")
    a("--hidden_features", type=int, default=256, help="width of every hidden layer (WIRE: a complex width of "
                                                       "this / sqrt(2))")
    a("--first_omega", type=float, default=None, help="siren, finer, wire: first layer's frequency (default: 30; "
                                                      "audio 3000)")
    a("--hidden_omega", type=float, default=30.0, help="siren, finer, wire: the other layers' frequency")
    a("--first_bias_scale", type=float, default=None, help="finer: first-layer bias ~ U(-k, k) (default: "
                                                           "PyTorch's default init)")
    a("--scale_req_grad", action="store_true", help="finer: let the |z| + 1 factor carry gradient")
    a("--N_freqs", type=int, default=10, help="pemlp: positional-encoding frequencies")
    a("--scale", type=float, default=30.0, help="gauss, wire: the Gaussian's scale")
    a = g["transform"].add_argument  # the reference's; defaults: components/sympower.py's constructors
    a("--transform", default="min_max",
      help=_names("components/sympower.py", "TRANSFORMS") + "; Table 1's rows: components/rows.py")
    td = transform_defaults()  # the paper's values, written once: the transforms' keyword defaults
    a("--trans_shift", type=float, default=td["trans_shift"], help="every transform ends in (x01 + shift) * scale")
    a("--trans_scale", type=float, default=td["trans_scale"], help="... and this scale: [0, 1] -> [-1, 1]")
    a("--pn_cum", type=float, default=td["pn_cum"], help="sym_power: cdf level of median centring")
    a("--pn_buffer", type=float, default=td["pn_buffer"],
      help="sym_power: <0 adaptive soft boundary; >=0 fixed buffer x range")
    a("--pn_alpha", type=float, default=td["pn_alpha"], help="sym_power: tail fraction of the adaptive boundary")
    a("--pn_k", type=float, default=td["pn_k"], help="sym_power: boundary length per unit tail mass (8-bit levels)")
    a("--pn_beta", type=float, default=td["pn_beta"],
      help="sym_power: deviation-aware calibration width; <=0 turns it off")
    a("--gamma_boundary", type=float, default=td["gamma_boundary"], help="sym_power: gamma is clamped to [1/b, b]")
    a("--gamma_trans", type=float, default=td["gamma_trans"], help="sym_power: >=0 forces gamma (the gamma rows)")
    a("--box_shift", type=float, default=td["box_shift"], help="box_cox: offset x 256 levels")
    a("--inverse", action="store_true", help="fit lo + hi - x (the inverse row)")
    a("--rpp", action="store_true", help="random pixel permutation (the rpp row)")
    a = g["training"].add_argument
    a("--seed", type=int, default=3407, help="seeds python, numpy and torch once, as the reference does")
    a("--num_epochs", type=int, default=5000, help="full-batch steps (video: batches of --batch_size)")
    a("--lr", type=float, default=None, help="Adam's learning rate (default: the backbone's, models.py's MODELS: "
                                             "SIREN's 1e-4)")
    schedules = table_names("trainer/schedule.py", "LR_SCHEDULES")  # the first is the published one
    a("--lr_schedule", default=schedules[0], choices=schedules,
      help="decay: lr * 0.1 ** (epoch / num_epochs), the published trainer's; constant: --lr to the last epoch "
           "(the authors' later EVOS-INR baseline; docs/protocol.md)")
    a("--batch_size", type=int, default=None,
      help="video: coordinates per step (default: 1/16 of all pixels, at least 4096); images and audio fit the "
           "full batch")
    a("--eager", action="store_true", help="plain autograd training step (SIREN otherwise uses the fused step)")
    a("--tf32", action="store_true", help="GPU: TF32 matrix products (faster, less exact; off as in the reference)")
    a = g["memory"].add_argument
    a("--chunk_rows", type=chunk_rows, default="auto", metavar="auto|R",
      help="rows per forward + backward pass; the step (gradients, one Adam update) stays the full batch's. "
           "auto: chunk only when the full batch would not fit the memory budget; 0: never chunk")
    a("--memory_gb", type=float, default=None,
      help="memory budget of --chunk_rows auto, in GB (default: the device's free memory, less a margin)")
    a = g["output"].add_argument
    a("--save_dir", default="./log", help="root of run folders")
    a("--up_folder_name", default="debug", help="experiment folder under save_dir")
    a("--tag", default="exp", help="run name prefix: <save_dir>/<up_folder_name>/<tag>_<time>_<random>/")
    a("--run_folder", default=None, metavar="DIR",
      help="the run folder to create, exactly (run.py chooses it); default: <save_dir>/<up_folder_name>/<tag>_<time>_<rand>")
    a("--log_epoch", type=int, default=500, help="compute metrics every this many epochs (and at the last)")
    a("--eval_lpips", action="store_true", help="also compute LPIPS at log epochs (needs AlexNet weights)")
    a("--snap_epoch", type=int, default=5000, help="checkpoint every this many epochs (and at the last)")
    a("--snap_minutes", type=float, default=10.0,
      help="also checkpoint whenever this many minutes have passed since the last checkpoint (a kill loses at "
           "most this much)")
    a("--no_images", action="store_true", help="no TensorBoard pictures (huge sweeps)")
    a("--quiet", action="store_true", help="plain periodic progress lines instead of a bar")
    a = g["run"].add_argument
    a("--device", default=None, help="cuda, cuda:N or cpu (default: cuda when available, else cpu)")
    a("--resume", default=None, metavar="RUN_DIR",
      help="continue an interrupted run in its own folder with its own options; only how it runs ("
           + ", ".join(f"--{k}" for k in ROLES["run"]) + ") may be given with it")
    a("--eval_ckpt", default=None, metavar="PATH",
      help="decode a checkpoint into a new run folder; a run folder or log tree: every run's last checkpoints")
    a("--trust_checkpoint", action="store_true",
      help="accept the reference's checkpoint format (its argparse.Namespace, nothing else)")
    return p


def group_options(name, parser=None):
    """The options of one of main.py's help sections (GROUPS), in order: e.g. "transform"."""
    (group,) = [g for g in (parser or build_parser())._action_groups if g.title == name]
    return [a.dest for a in group._group_actions]


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


def resolve(args):
    """The options a run trains with: the reference's defaults (above), then what the backbone and the
    modality set for options left None (models.MODELS: lr, first omega; components/signals.py's
    MODALITIES: audio's first omega 3000, which refines the backbone's), then the user's, which are
    never replaced. Names are checked here, one line each. Resolving twice changes nothing, so a
    resumed run's args.json (or an older one with nulls) goes through here too."""
    from components.signals import MODALITIES
    from components.transform import TRANSFORMS
    from models import MODELS, backbone_defaults

    for name, table in (("transform", TRANSFORMS), ("model_type", MODELS), ("signal_type", MODALITIES)):
        if getattr(args, name) not in table:
            raise OptionError(f"--{name} {getattr(args, name)}: invalid choice (choose from {', '.join(table)})")
    derived = backbone_defaults(args.model_type)
    derived.update({k: v for k, v in MODALITIES[args.signal_type].defaults.items() if k in derived})
    for k, v in derived.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    return args


def option_kinds(parser=None):
    """{option: (kind, nullable, choices)} of main.py's options: what util.records checks a saved
    args.json against (a hand-edited file cannot smuggle a string into a number)."""
    kinds = {}
    for a in (parser or build_parser())._actions:
        if a.dest == "help":
            continue
        if a.const is True and a.nargs == 0:
            kind = "bool"
        else:
            kind = {int: "int", float: "float", chunk_rows: "auto or int"}.get(a.type, "str")
        kinds[a.dest] = (kind, a.default is None, list(a.choices) if a.choices is not None else None)
    return kinds


def _between(lo, hi):
    return lambda v: lo <= v <= hi


# Every numeric option, with the range the method can work with (all must also be finite). None
# (unset) is always fine. The bounds are where the fit stops making sense, not taste:
RULES = {
    # numpy's generators take seeds in [0, 2**32 - 1] (torch's would take more)
    "seed": (_between(0, 2 ** 32 - 1), "in [0, 2**32 - 1] (what numpy's generator takes)"),
    **{k: (_between(1, 10 ** 9), "positive (an integer, at most 1e9)") for k in ("num_epochs", "log_epoch", "snap_epoch")},
    "batch_size": (_between(1, 2 ** 31 - 1), "positive and at most 2**31 - 1"),
    "hidden_features": (_between(1, 2 ** 24), "positive and at most 2**24"),
    "hidden_layers": (_between(0, 1000), ">= 0 and at most 1000"),
    # beyond 10 Adam's first step moves every weight by about lr: a certain divergence (the loop also checks)
    "lr": (lambda v: 0 < v <= 10, "positive and at most 10"),
    **{k: (lambda v: 0 < v <= 1e6, "positive and at most 1e6") for k in ("first_omega", "hidden_omega", "scale")},
    "first_bias_scale": (_between(0, 1e6), ">= 0 and at most 1e6"),
    # 2**(N_freqs - 1) times a float32 coordinate in [-1, 1]: beyond 2**23 no fractional bit is left
    "N_freqs": (_between(0, 24), "in [0, 24] (2**23 times a float32 coordinate keeps no fraction)"),
    # the data shift and scale: the target (x01 + shift) * scale must keep the data's levels in float32
    # and its squared error above float32's smallest normal number
    "trans_shift": (_between(-100, 100), "in [-100, 100] (a larger shift drowns the data's levels in float32)"),
    "trans_scale": (lambda v: 1e-6 <= abs(v) <= 1e6,
                    "non-zero, 1e-6 to 1e6 in magnitude (a smaller scale underflows the loss; 0 cannot be inverted)"),
    # sym_power's histogram logic: 256 bins
    "pn_cum": (_between(0.01, 0.99), "in [0.01, 0.99] (a cdf level; at the ends median centring degenerates)"),
    "pn_alpha": (_between(1 / 256, 0.5), "in [1/256, 0.5] (at least one of the 256 bins, at most half)"),
    "pn_beta": (lambda v: v <= 0 or 1 / 256 <= v <= 1,
                "<= 0 (off) or in [1/256, 1] (a fraction of the 256 bins)"),
    "pn_buffer": (lambda v: v < 0 or v <= 10, "< 0 (adaptive) or in [0, 10] (times the data range)"),
    "pn_k": (_between(0, 4096), ">= 0 and at most 4096 (levels per unit tail mass)"),
    "gamma_boundary": (_between(1, 20), ">= 1 and at most 20"),
    # a forced gamma: x ** gamma must keep 8-bit levels apart (1e-30 makes every target 1, 1e30 every one 0)
    "gamma_trans": (lambda v: v < 0 or 0.05 <= v <= 20,
                    "positive (a forced gamma) or -1 (off); a forced gamma in [0.05, 20]: 0 or 1e-30 would make every target constant"),
    "box_shift": (_between(0, 100), ">= 0 and at most 100 (times 256 levels)"),
    # a millisecond is 16 samples at the 16 kHz every clip is resampled to; a shorter clip has no waveform
    "audio_seconds": (_between(1e-3, 1e6), "in [0.001, 1e6] seconds (a shorter clip holds no waveform to fit)"),
    "snap_minutes": (lambda v: 0 < v <= 1e6, "positive and at most 1e6"),
    "memory_gb": (lambda v: 0 < v <= 1e6, "positive and at most 1e6 (GB)"),
}

DEVICE = re.compile(r"cpu|cuda(:[0-9]{1,3})?")


def _plain_name(v):
    return v not in ("", ".", "..") and "/" not in v and os.sep not in v and "\0" not in v


def check_values(opts):
    """The option values of a dict (the command line's, or a checkpoint's) within RULES; returns it."""
    for name, (ok, rule) in RULES.items():
        v = opts.get(name)
        if v is None:
            continue
        if isinstance(v, float) and not math.isfinite(v):
            raise OptionError(f"--{name} must be a finite number (got {v})")
        if not ok(v):
            raise OptionError(f"--{name} must be {rule} (got {v})")
    for name, v in opts.items():
        if isinstance(v, str) and "\0" in v:
            raise OptionError(f"--{name} holds a NUL character")
    memory_gb, rows = opts.get("memory_gb"), opts.get("chunk_rows")
    if memory_gb is not None and isinstance(rows, int) and not isinstance(rows, bool):
        raise OptionError(f"--memory_gb {memory_gb:g} is the budget of --chunk_rows auto; --chunk_rows {rows} "
                          f"sets the rows itself: give one of them")
    if opts.get("model_type") == "wire" and int(opts.get("hidden_features", 2) / math.sqrt(2)) < 1:
        raise OptionError(f"--hidden_features {opts['hidden_features']}: WIRE's complex width is hidden_features / "
                          f"sqrt(2), 0 here; give at least 2")
    return opts


def check_device(device):
    if device is not None and not DEVICE.fullmatch(device):
        raise OptionError(f"--device {device!r}: expected cpu, cuda or cuda:N")


def check(args):
    """Reject option values that cannot work, each with a one-line reason that names the option."""
    if args.eval_ckpt is None and args.resume is None and not args.input_path:
        raise OptionError("--input_path is required (a file, a folder or builtin:...)")
    if args.eval_ckpt is not None and args.resume is not None:
        raise OptionError("--eval_ckpt decodes a checkpoint and --resume continues a run: give one of them")
    check_values(vars(args))
    check_device(args.device)
    # the run folder <save_dir>/<up_folder_name>/<tag>_<time>_<rand> stays under --save_dir
    if not _plain_name(args.tag):
        raise OptionError(f"--tag {args.tag!r} must be a plain name (no '/', not '.' or '..')")
    up = args.up_folder_name
    if not up or os.path.isabs(up) or ".." in up.replace(os.sep, "/").split("/") or "\0" in up \
            or not within(args.save_dir, up):
        raise OptionError(f"--up_folder_name {up!r} must be a folder under --save_dir (relative, no '..')")
    return args


PATHS = ("--input_path", "--save_dir", "--run_folder", "--resume", "--eval_ckpt")  # the options that name a path


def absolute_paths(argv, folder):
    """main.py's argv with the value of each PATHS option (written out, as --name=V, or as a prefix argparse
    takes for it) made absolute from `folder`: for a main.py that runs elsewhere (run.py's and debug.py's
    run in the repository) the paths mean what its user meant. builtin: inputs and '' stay as they are."""
    names = [o for o in build_parser()._option_string_actions if o.startswith("--")]
    out = list(argv)
    for i, token in enumerate(out):
        name, eq, value = token.partition("=")
        full = [o for o in names if o == name] or [o for o in names if o.startswith(name)] if name.startswith("--") \
            else []
        if len(full) != 1 or full[0] not in PATHS:
            continue
        at = i if eq else i + 1
        value = value if eq else out[i + 1] if i + 1 < len(out) else ""
        if value and not value.startswith("builtin:"):
            out[at] = (f"{full[0]}=" if eq else "") + os.path.join(folder, value)
    return out

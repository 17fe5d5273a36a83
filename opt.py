"""main.py's options, derived from util/declarations.py: the parser, roles, ranges, the kinds args.json
is checked against; `resolve` fills the derived defaults (None). Loads no torch: run.py checks sweeps with it."""
import argparse
import math
import os
import re

from config import ROWS
from util.cli import Parser
from util.declarations import GROUPS, OPTIONS
from util.errors import InputError, OptionError
from util.readers import is_int, is_number, read_args, within

# What each option is to a run (util/declarations.py): resume (trainer/fit.py), checkpoints
# (trainer/checkpoint.py), TensorBoard's HParams and the decoder read this one table.
ROLES = {role: tuple(o.name for o in OPTIONS if o.role == role) for role in ("fit", "run", "display")}
ROLE = {o.name: o.role for o in OPTIONS}
RULES = {o.name: o.rule for o in OPTIONS if o.rule}  # every number's range (all must also be finite)


class DefaultsShown(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default after its help, unless derived (the help says from what) or a flag's off."""

    def _get_help_string(self, action):
        return action.help if action.default in (None, False) else super()._get_help_string(action)


def build_parser():
    p = Parser(prog="main.py", description="Fit an INR to a signal passed through a data transform.",
               formatter_class=DefaultsShown)
    groups = {name: p.add_argument_group(name, text) for name, text in GROUPS}
    for o in OPTIONS:
        add = groups[o.group].add_argument
        text = o.help.replace("{run}", ", ".join(f"--{k}" for k in ROLES["run"]))
        if o.kind == "flag":
            add(f"--{o.name}", action="store_true", help=text)
        else:
            add(f"--{o.name}", type=TYPES[o.kind], default=o.default, choices=o.choices, metavar=o.metavar, help=text)
    return p


def group_options(name):
    """The options of one of main.py's help sections (GROUPS), in order: e.g. "transform"."""
    return [o.name for o in OPTIONS if o.group == name]


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


TYPES = {"int": int, "float": float, "str": None, "rows": chunk_rows}
# What a value read back from a file (args.json, a checkpoint's options) must be, by kind
KINDS = {"int": (is_int, "an integer"), "float": (is_number, "a number"),
         "flag": (lambda v: isinstance(v, bool), "true or false"),
         "str": (lambda v: isinstance(v, str) and "\0" not in v, "a string"),
         "rows": (lambda v: v == "auto" or is_int(v, 0), "auto or a row count >= 0")}


def check_kinds(values, where, names=None):
    """Each option of `values` (of `names`, default all) of its declared kind, None where its default is
    derived, one of its choices; InputError naming the first that is not. Returns `values`."""
    for o in OPTIONS:
        if o.name not in values or (names is not None and o.name not in names):
            continue
        v = values[o.name]
        if v is None and o.default is None:
            continue
        ok, what = KINDS[o.kind]
        if not ok(v):
            raise InputError(f"{where}: option {o.name} must be {what}{' or null' if o.default is None else ''} "
                             f"(got {type(v).__name__ if v is not None else 'null'} {str(v)[:40]!r})")
        if o.choices is not None and v not in o.choices:
            raise InputError(f"{where}: option {o.name} is {str(v)[:40]!r}, not one of {', '.join(o.choices)}")
    return values


def read_options(run_dir):
    """A run folder's args.json, every option of its declared kind."""
    return check_kinds(read_args(run_dir), os.path.join(run_dir, "args.json"))


def defaults():
    """Every option's default, as declared."""
    return {o.name: o.default for o in OPTIONS}


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
    """The options a run trains with: options left None get the backbone's defaults (models.MODELS), refined
    by the modality's (audio's first omega 3000); the user's are never replaced. Names are checked here.
    Idempotent, so a resumed run's args.json (or an older one with nulls) goes through here too."""
    from components.signals import MODALITIES
    from components.transform import TRANSFORMS
    from components.loss import LOSSES
    from models import MODELS, backbone_defaults

    for name, table in (("transform", TRANSFORMS), ("model_type", MODELS), ("signal_type", MODALITIES),
                        ("loss", LOSSES)):
        if getattr(args, name) not in table:
            raise OptionError(f"--{name} {getattr(args, name)}: invalid choice (choose from {', '.join(table)})")
    derived = backbone_defaults(args.model_type)
    derived.update({k: v for k, v in MODALITIES[args.signal_type].defaults.items() if k in derived})
    for k, v in derived.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    return args


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
    for flag in PATHS:  # '' would be the current folder: an unset shell variable, not a choice
        if getattr(args, flag[2:]) == "":
            raise OptionError(f"{flag} is empty: name a file or folder")
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
    """main.py's argv with each PATHS option's value (also as --name=V or an argparse prefix) joined to `folder`,
    for a main.py run elsewhere (run.py's, debug.py's); builtin: inputs and '' stay as they are."""
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

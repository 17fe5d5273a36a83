"""Every main.py option and named table, declared once as plain data (no torch, no project import): opt.py
derives the parser, ranges (RULES), roles (ROLES) and args.json's kinds from OPTIONS; the torch classes keep
their own tables (components/sympower.py, models.MODELS, components/signals.py, trainer/schedule.py), which
tests/test_declarations.py holds equal to these. Adding an option is one Option in its help section, then its
use (args.<name>):

    Option("weight_decay", "float", 0.0, "fit", "training", "Adam's weight decay", _between(0, 1)),

kind: int, float, str, flag (off by default) or rows ('auto' or a count >= 0). role: fit (a resume keeps it,
a checkpoint must match it), run (a resume may change it) or display (what is recorded and where). rule:
(test, what it must be) for a number; None always passes. In a help text, {run} stands for the run options.
"""
from typing import NamedTuple

# The tables' names (and what each sets where the user left an option None); the first is the default.
TRANSFORMS = ("min_max", "z_score", "box_cox", "sym_power")
BACKBONES = {"siren": {"lr": 1e-4, "first_omega": 30.0}, "finer": {"lr": 5e-4, "first_omega": 30.0},
             "wire": {"lr": 5e-3, "first_omega": 30.0}, "gauss": {"lr": 5e-3}, "pemlp": {"lr": 1e-3}}
MODALITIES = {"image": {}, "audio": {"first_omega": 3000.0}, "video": {}}
SCHEDULES = ("decay", "constant")  # decay: the published trainer's, which every run before the option ran
LOSSES = ("mse", "l1")  # mse: the published loss, which every run before the option ran

# main.py --help's sections, in order
GROUPS = (("input", "the signal to fit"), ("model", "the INR backbone (the reference's options)"),
          ("transform", "the data transform (the reference's options; the paper's defaults)"),
          ("training", "the fit"), ("memory", "how a step is split into passes (trainer/memory.py)"),
          ("output", "the run folder, what is logged and how often"), ("run", "where it runs, resuming, decoding"))


class Option(NamedTuple):
    name: str
    kind: str
    default: object  # None: derived (opt.resolve), and the help says from what
    role: str
    group: str
    help: str
    rule: tuple = None
    choices: tuple = None
    metavar: str = None


def _g(v):
    return f"{v:g}".replace("e+0", "e")  # 1e6, as the messages have always said it


def _between(lo, hi, text=None):
    return lambda v: lo <= v <= hi, text or f">= {_g(lo)} and at most {_g(hi)}"


def _positive(hi, text=None):
    return lambda v: 0 < v <= hi, text or f"positive and at most {_g(hi)}"


def _listed(names, where):
    return f"{', '.join(names[:-1])} or {names[-1]} ({where})"


O = Option
OPTIONS = (
    O("input_path", "str", None, "fit", "input",
      "a file, a folder (every sample in it is fitted), or builtin:chirp / builtin:astronaut_pan"),
    O("signal_type", "str", "image", "fit", "input", _listed(tuple(MODALITIES), "components/signals.py's MODALITIES")),
    O("multi_data", "flag", False, "display", "input",
      "the published code's flag for a folder input, accepted so that its command lines run; a folder is always "
      "fitted whole, with or without it"),
    # a millisecond is 16 samples at the 16 kHz every clip is resampled to; a shorter clip has no waveform
    O("audio_seconds", "float", 5.0, "fit", "input", "audio: use at most the first this many seconds",
      _between(1e-3, 1e6, "in [0.001, 1e6] seconds (a shorter clip holds no waveform to fit)")),
    O("model_type", "str", "siren", "fit", "model", _listed(tuple(BACKBONES), "models.py's MODELS")),
    O("hidden_layers", "int", 3, "fit", "model", "hidden layers between the first and the last", _between(0, 1000)),
    O("hidden_features", "int", 256, "fit", "model",
      "width of every hidden layer (WIRE: a complex width of this / sqrt(2))", _between(1, 2 ** 24, "positive and at most 2**24")),
    O("first_omega", "float", None, "fit", "model", "siren, finer, wire: first layer's frequency (default: 30; audio 3000)",
      _positive(1e6)),
    O("hidden_omega", "float", 30.0, "fit", "model", "siren, finer, wire: the other layers' frequency", _positive(1e6)),
    O("first_bias_scale", "float", None, "fit", "model",
      "finer: first-layer bias ~ U(-k, k) (default: PyTorch's default init)", _between(0, 1e6)),
    O("scale_req_grad", "flag", False, "fit", "model", "finer: let the |z| + 1 factor carry gradient"),
    # 2**(N_freqs - 1) times a float32 coordinate in [-1, 1]: beyond 2**23 no fractional bit is left
    O("N_freqs", "int", 10, "fit", "model", "pemlp: positional-encoding frequencies",
      _between(0, 24, "in [0, 24] (2**23 times a float32 coordinate keeps no fraction)")),
    O("scale", "float", 30.0, "fit", "model", "gauss, wire: the Gaussian's scale", _positive(1e6)),
    # the paper's values; components/sympower.py's constructors hold the same (tests/test_declarations.py).
    # The target (x01 + shift) * scale must keep the data's levels in float32 and its squared error normal.
    O("transform", "str", TRANSFORMS[0], "fit", "transform",
      _listed(TRANSFORMS, "components/sympower.py's TRANSFORMS") + "; Table 1's rows: components/rows.py"),
    O("trans_shift", "float", -0.5, "fit", "transform", "every transform ends in (x01 + shift) * scale",
      _between(-100, 100, "in [-100, 100] (a larger shift drowns the data's levels in float32)")),
    O("trans_scale", "float", 2.0, "fit", "transform", "... and this scale: [0, 1] -> [-1, 1]",
      (lambda v: 1e-6 <= abs(v) <= 1e6,
       "non-zero, 1e-6 to 1e6 in magnitude (a smaller scale underflows the loss; 0 cannot be inverted)")),
    # sym_power's histogram logic: 256 bins
    O("pn_cum", "float", 0.5, "fit", "transform", "sym_power: cdf level of median centring",
      _between(0.01, 0.99, "in [0.01, 0.99] (a cdf level; at the ends median centring degenerates)")),
    O("pn_buffer", "float", -1.0, "fit", "transform", "sym_power: <0 adaptive soft boundary; >=0 fixed buffer x range",
      (lambda v: v < 0 or v <= 10, "< 0 (adaptive) or in [0, 10] (times the data range)")),
    O("pn_alpha", "float", 0.01, "fit", "transform", "sym_power: tail fraction of the adaptive boundary",
      _between(1 / 256, 0.5, "in [1/256, 0.5] (at least one of the 256 bins, at most half)")),
    O("pn_k", "float", 256.0, "fit", "transform", "sym_power: boundary length per unit tail mass (8-bit levels)",
      _between(0, 4096, ">= 0 and at most 4096 (levels per unit tail mass)")),
    O("pn_beta", "float", 0.05, "fit", "transform", "sym_power: deviation-aware calibration width; <=0 turns it off",
      (lambda v: v <= 0 or 1 / 256 <= v <= 1, "<= 0 (off) or in [1/256, 1] (a fraction of the 256 bins)")),
    O("gamma_boundary", "float", 5.0, "fit", "transform", "sym_power: gamma is clamped to [1/b, b]", _between(1, 20)),
    # a forced gamma: x ** gamma must keep 8-bit levels apart (1e-30 makes every target 1, 1e30 every one 0)
    O("gamma_trans", "float", -1.0, "fit", "transform", "sym_power: >=0 forces gamma (the gamma rows)",
      (lambda v: v < 0 or 0.05 <= v <= 20, "positive (a forced gamma) or -1 (off); a forced gamma in [0.05, 20]: "
                                           "0 or 1e-30 would make every target constant")),
    O("box_shift", "float", 0.1, "fit", "transform", "box_cox: offset x 256 levels",
      _between(0, 100, ">= 0 and at most 100 (times 256 levels)")),
    O("inverse", "flag", False, "fit", "transform", "fit lo + hi - x (the inverse row)"),
    O("rpp", "flag", False, "fit", "transform", "random pixel permutation (the rpp row)"),
    O("seed", "int", 3407, "fit", "training", "seeds python, numpy and torch once, as the reference does",
      _between(0, 2 ** 32 - 1, "in [0, 2**32 - 1] (what numpy's generator takes)")),
    O("num_epochs", "int", 5000, "fit", "training", "full-batch steps (video: batches of --batch_size)",
      _between(1, 10 ** 9, "positive (an integer, at most 1e9)")),
    # beyond 10 Adam's first step moves every weight by about lr: a certain divergence (the loop also checks)
    O("lr", "float", None, "fit", "training",
      "Adam's learning rate (default: the backbone's, models.py's MODELS: SIREN's 1e-4)", _positive(10)),
    O("lr_schedule", "str", SCHEDULES[0], "fit", "training",
      "decay: lr * 0.1 ** (epoch / num_epochs), the published trainer's; constant: --lr to the last epoch "
      "(the authors' later EVOS-INR baseline; docs/protocol.md)", choices=SCHEDULES),
    O("loss", "str", LOSSES[0], "fit", "training",
      "the training loss, in the transformed domain: " + _listed(LOSSES, "components/loss.py's LOSSES")),
    O("batch_size", "int", None, "fit", "training",
      "video: coordinates per step (default: 1/16 of all pixels, at least 4096); images and audio fit the full batch",
      _between(1, 2 ** 31 - 1, "positive and at most 2**31 - 1")),
    O("eager", "flag", False, "run", "training", "plain autograd training step (SIREN otherwise uses the fused step)"),
    O("tf32", "flag", False, "run", "training", "GPU: TF32 matrix products (faster, less exact; off as in the reference)"),
    O("chunk_rows", "rows", "auto", "run", "memory",
      "rows per forward + backward pass; the step (gradients, one Adam update) stays the full batch's. auto: chunk "
      "only when the full batch would not fit the memory budget; 0: never chunk", metavar="auto|R"),
    O("memory_gb", "float", None, "run", "memory",
      "memory budget of --chunk_rows auto, in GB (default: the device's free memory, less a margin)",
      _positive(1e6, "positive and at most 1e6 (GB)")),
    O("save_dir", "str", "./log", "display", "output", "root of run folders"),
    O("up_folder_name", "str", "debug", "display", "output", "experiment folder under save_dir"),
    O("tag", "str", "exp", "display", "output", "run name prefix: <save_dir>/<up_folder_name>/<tag>_<time>_<random>/"),
    O("run_folder", "str", None, "display", "output", "the run folder to create, exactly (run.py chooses it); "
      "default: <save_dir>/<up_folder_name>/<tag>_<time>_<rand>", metavar="DIR"),
    O("log_epoch", "int", 500, "display", "output", "compute metrics every this many epochs (and at the last)",
      _between(1, 10 ** 9, "positive (an integer, at most 1e9)")),
    # LPIPS's network is drawn before the model (protocol.md): it moves the draws, so it is what a run fits
    O("eval_lpips", "flag", False, "fit", "output", "also compute LPIPS at log epochs (needs AlexNet weights)"),
    O("snap_epoch", "int", 5000, "display", "output", "checkpoint every this many epochs (and at the last)",
      _between(1, 10 ** 9, "positive (an integer, at most 1e9)")),
    O("snap_minutes", "float", 10.0, "display", "output",
      "also checkpoint whenever this many minutes have passed since the last checkpoint (a kill loses at most "
      "this much)", _positive(1e6)),
    O("no_images", "flag", False, "display", "output", "no TensorBoard pictures (huge sweeps)"),
    O("quiet", "flag", False, "run", "output", "plain periodic progress lines instead of a bar"),
    O("device", "str", None, "run", "run", "cuda, cuda:N or cpu (default: cuda when available, else cpu)"),
    O("resume", "str", None, "display", "run", "continue an interrupted run in its own folder with its own options; "
      "only how it runs ({run}) may be given with it", metavar="RUN_DIR"),
    O("eval_ckpt", "str", None, "display", "run",
      "decode a checkpoint into a new run folder; a run folder or log tree: every run's last checkpoints",
      metavar="PATH"),
    O("trust_checkpoint", "flag", False, "display", "run",
      "accept the reference's checkpoint format (its argparse.Namespace, nothing else)"),
)
del O

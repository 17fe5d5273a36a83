"""TensorBoard helpers: the writer, error maps with a colour bar, metric tags, image means, HParams.
The tags a run writes: docs/views.md.
"""
import math
import os
import shlex

# A perceptually ordered dark-to-bright map (anchors of matplotlib's "inferno"), enough for error maps.
# torch is imported where it is used: run.py prints tensorboard_command without loading it.
_INFERNO = [[0.001, 0.000, 0.014], [0.258, 0.039, 0.406], [0.578, 0.148, 0.404],
            [0.865, 0.317, 0.226], [0.988, 0.645, 0.040], [0.988, 0.998, 0.645]]

# Metric keys whose TensorBoard name says more than results.json's (which keeps the reference's names).
TAGS = {"mse": "mse_transformed"}  # the loss in the transform's own domain: not comparable across transforms
METRIC_ORDER = ("psnr", "ssim_ref", "ssim", "lpips", "snr", "si_snr", "abs_error_max", "mse")


def colormap(x):
    """Values in [0, 1] of shape (H, W) -> RGB (3, H, W) in [0, 1]."""
    import torch

    anchors = torch.tensor(_INFERNO)
    x = x.clamp(0, 1) * (len(anchors) - 1)
    i = x.floor().long().clamp(max=len(anchors) - 2)
    w = (x - i).unsqueeze(-1)
    rgb = anchors[i] * (1 - w) + anchors[i + 1] * w
    return rgb.permute(2, 0, 1)


# ---- error maps ---------------------------------------------------------------------------------

MAP_MIN_SIDE = 192  # small images are enlarged (nearest neighbour, an integer factor) so the bar's text fits
HEADER, GAP, BAR, LABELS = 30, 8, 14, 52  # pixels: the two text lines above, map-to-bar gap, bar width, tick text
# One colour scale per sample for every run of a sweep, from the signal's nominal range alone, so runs
# that never meet draw the same error in the same colour: a log scale from ERROR_TOP of the range
# (an error of 12 dB) down ERROR_DECADES decades (72 dB): an early epoch's errors of tens of levels and
# a finished fit's fractions of a level both sit inside it. Errors outside it take the end colours, so
# one bright outlier darkens nothing else.
ERROR_TOP, ERROR_DECADES = 0.25, 3


def error_scale(span):
    """The top of a sample's error-map scale, in the signal's units."""
    return ERROR_TOP * span


def error_map_layout(h, w):
    """(factor, top): the map occupies rows top .. top + h * factor and columns 0 .. w * factor."""
    return max(1, math.ceil(MAP_MIN_SIDE / max(h, w))), HEADER


def error_fraction(err, top):
    """Where on the colour scale (0 .. 1) each error lies: log10 between top / 10**ERROR_DECADES and top."""
    import torch

    bottom = top / 10 ** ERROR_DECADES
    return ((torch.log10(err.double().clamp(min=bottom)) - math.log10(bottom)) / ERROR_DECADES).clamp(0, 1).float()


def error_map(err, top, unit="levels", psnr=None):
    """An error map (H, W) on the log scale error_fraction(., top), with a colour bar in `unit` marking the
    map's maximum (blue) and a caption with its PSNR: RGB (3, H', W') in [0, 1]."""
    import numpy as np
    import torch
    from PIL import Image, ImageDraw, ImageFont

    h, w = err.shape
    k, head = error_map_layout(h, w)
    rgb = colormap(error_fraction(err, top)).repeat_interleave(k, 1).repeat_interleave(k, 2)
    hk, wk = h * k, w * k
    canvas = np.full((head + hk + 6, wk + GAP + BAR + LABELS, 3), 255, dtype=np.uint8)
    canvas[head:head + hk, :wk] = (rgb.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    bar = colormap(torch.linspace(1, 0, hk).unsqueeze(1).expand(hk, BAR))  # top of the bar is `top`
    canvas[head:head + hk, wk + GAP:wk + GAP + BAR] = (bar.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    img = Image.fromarray(canvas)
    draw, font = ImageDraw.Draw(img), ImageFont.load_default(size=11)
    peak = float(err.max())
    draw.text((2, 1), f"|error| in {unit}, log scale to {top:.3g}", fill=(0, 0, 0), font=font)
    draw.text((2, 15), (f"PSNR {psnr:.2f} dB; " if psnr is not None else "") + f"max {peak:.3g}", fill=(0, 0, 0),
              font=font)
    x = wk + GAP + BAR + 3
    for d in range(ERROR_DECADES + 1):  # a tick per decade
        y = head + round(d / ERROR_DECADES * (hk - 1))
        draw.line([(wk + GAP + BAR, y), (x, y)], fill=(0, 0, 0))
        draw.text((x + 1, min(max(y - 6, 0), head + hk - 10)), f"{top / 10 ** d:.3g}", fill=(0, 0, 0), font=font)
    y = head + round((1 - float(error_fraction(torch.tensor(peak), top))) * (hk - 1))  # the map's own maximum
    draw.line([(wk + GAP - 4, y), (wk + GAP + BAR - 1, y)], fill=(0, 160, 255), width=2)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255


# ---- the command that shows a log folder ------------------------------------------------------------

# TensorBoard keeps 10 images per tag unless told (and in 2.21 `images=0` keeps none): the command keeps
# at least this many, and more where a run logged more epochs (every log_epoch-th, the last, and step 0).
IMAGES_KEPT = 100


def tensorboard_command(logdir, run_args=()):
    """The command that shows `logdir` with every image its runs logged; run_args: their args.json."""
    counts = [-(-a["num_epochs"] // a["log_epoch"]) + 1 for a in run_args
              if isinstance(a.get("num_epochs"), int) and isinstance(a.get("log_epoch"), int) and a["log_epoch"] > 0]
    return f"tensorboard --logdir {shlex.quote(str(logdir))} --samples_per_plugin images={max([IMAGES_KEPT, *counts])}"


# ---- the writer, scalars, HParams ------------------------------------------------------------------

def make_writer(folder):
    import threading

    from torch.utils.tensorboard import SummaryWriter

    if threading.excepthook is not _quiet_writer_errors:
        _quiet_writer_errors.previous = threading.excepthook
        threading.excepthook = _quiet_writer_errors
    return SummaryWriter(log_dir=folder)


def _quiet_writer_errors(args):
    """The writer's thread stops on an OSError (a full disk), which the writer raises again in the main
    thread, where the entry point reports it in one line: the thread's traceback would say nothing more."""
    from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread

    if isinstance(args.thread, _AsyncWriterThread) and issubclass(args.exc_type, OSError):
        if args.exc_value.filename is None:  # a write's OSError names no file: name the event file it was
            gfile = getattr(getattr(args.thread, "_record_writer", None), "_writer", None)
            name = getattr(gfile, "filename", None)
            args.exc_value.filename = os.fsdecode(name) if isinstance(name, (bytes, str)) else None
        return
    _quiet_writer_errors.previous(args)


def metric_tag(key):
    return TAGS.get(key, key)


def _ordered_metrics(keys):
    return sorted(keys, key=lambda k: (METRIC_ORDER.index(k) if k in METRIC_ORDER else len(METRIC_ORDER), k))


def write_means(writer, means):
    """The image means of every logged epoch ({epoch: {metric: value}}, Recorder.mean()) as mean/eval/<metric>,
    once every sample has logged (TensorBoard orders the steps). Returns the tags written."""
    tags = set()
    for epoch, row in means.items():
        for k, v in row.items():
            if isinstance(v, float) and math.isfinite(v):
                writer.add_scalar(f"mean/eval/{metric_tag(k)}", v, global_step=int(epoch))
                tags.add(k)
    return [f"mean/eval/{metric_tag(k)}" for k in _ordered_metrics(tags)]


# The columns a sweep differs in, first (TensorBoard shows the first five): (option, column name).
HPARAM_FIRST = (("set", "parameter set"), ("transform", "transform"), ("seed", "seed"), ("model_type", "backbone"),
                ("hidden_features", "width"), ("hidden_layers", "depth"), ("lr", "lr"), ("lr_schedule", "lr schedule"),
                ("loss", "loss"), ("num_epochs", "epochs"),
                ("pn_cum", "pn_cum"), ("pn_buffer", "pn_buffer"), ("pn_alpha", "pn_alpha"), ("pn_k", "pn_k"),
                ("pn_beta", "pn_beta"), ("gamma_boundary", "gamma_boundary"), ("gamma_trans", "gamma_trans"))


def _metric_name(tag):
    """A metric's HParams column: `psnr` for the mean over images, `psnr 01` for image 01's."""
    head, metric = tag.split("/")[0], tag.split("/")[-1]
    return metric if head == "mean" else f"{metric} {head}"


def hparam_columns(args, domains, shown):
    """[(option, column name, value, discrete domain or None)] of the options in `shown` (opt.ROLES' fit),
    HPARAM_FIRST's first, then the others alphabetically. A free string (a path) has no column: TensorBoard
    warns about a string column without a domain. `set` is the parameter set without its seed (run.py --seeds
    tags <set>_seed<N>), so a set's seeds group. `domains`: {option: the names it can take} (the caller's)."""
    from util.folders import seed_free_tag

    choices = {k: list(v) for k, v in domains.items()}
    the_set = seed_free_tag(str(args.get("tag")), args.get("seed"))
    choices["set"] = list(dict.fromkeys([*choices.get("set", []), the_set]))
    values = {**args, "set": the_set}  # resolved options (opt.resolve): lr is the one the run used
    if args.get("seed") is not None:  # a name, not a quantity: shown as 3407, never 3407.0
        values["seed"] = str(args["seed"])
        seeds = {int(x) for x in [*choices.get("seed", []), args["seed"]]}
        choices["seed"] = [str(x) for x in sorted(seeds)]
    first = [k for k, _ in HPARAM_FIRST if k == "set" or k in shown]
    names = dict(HPARAM_FIRST)
    rest = sorted((k for k in values if k in shown and k not in first), key=str.lower)
    out = []
    for k in first + rest:
        v = values.get(k)
        if isinstance(v, str) and k not in choices:
            continue  # a free string
        domain = [False, True] if isinstance(v, bool) else choices.get(k)
        out.append((k, names.get(k, k), v, domain))
    return out


HPARAM_METRICS_SKIP = {"mse"}  # the loss in each transform's own domain: not a metric to compare runs by


def write_layout(writer, mean_tags):
    """The Custom Scalars tab: a chart per metric of the image means (every run a line), then one of every
    image of every run (Time Series gives each image its own)."""
    import re

    metrics = [t.split("/")[-1] for t in mean_tags]
    writer.add_custom_scalars({
        "mean over images (every run)": {m: ["Multiline", [f"^{re.escape(t)}$"]] for m, t in zip(metrics, mean_tags)},
        "per image (every run and image)": {m: ["Multiline", [rf"^(?!mean/)[^/]+/eval/{re.escape(m)}$"]]
                                            for m in metrics}})


def write_hparams(writer, args, means, domains, shown, images=()):
    """The run's options and image means in the HParams tab, in the run's own events file (a row per run).
    TensorBoard sorts the declared columns by name, hence the numbered names (shown plain) that keep
    HPARAM_FIRST's order. After the means, each image's (`images`) PSNR."""
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    tags = [t for t in write_means(writer, means) if t.split("/")[-1] not in map(metric_tag, HPARAM_METRICS_SKIP)]
    write_layout(writer, tags)
    tags += [f"{name}/eval/psnr" for name in images]
    run_name = os.path.basename(os.path.normpath(writer.get_logdir()))  # the table's Trial ID
    infos, start = [], plugin_data_pb2.SessionStartInfo(group_name=run_name)
    for i, (k, label, v, domain) in enumerate(hparam_columns(args, domains, shown)):
        name = f"{i:02d} {k}"
        info = api_pb2.HParamInfo(name=name, display_name=label)
        if domain is not None:
            info.type = api_pb2.DATA_TYPE_BOOL if isinstance(v, bool) else api_pb2.DATA_TYPE_STRING
            info.domain_discrete.extend(domain)
        else:
            info.type = api_pb2.DATA_TYPE_FLOAT64
        infos.append(info)
        if isinstance(v, bool):
            start.hparams[name].bool_value = v
        elif isinstance(v, (int, float)):
            start.hparams[name].number_value = v
        elif isinstance(v, str):
            start.hparams[name].string_value = v
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=[
        api_pb2.MetricInfo(name=api_pb2.MetricName(tag=t), display_name=_metric_name(t)) for t in tags])
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS)
    for tag, data in ((metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment)),
                      (metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_start_info=start)),
                      (metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end))):
        summary = Summary()
        summary.value.add(tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR)
        writer._get_file_writer().add_summary(summary)

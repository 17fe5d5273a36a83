"""TensorBoard helpers: the writer, error maps with a colour bar, metric tags, image means, HParams.

What a run writes (per sample <name>; `mean/` once every sample has logged an epoch):
    <name>/train/total_loss, <name>/train/psnr   every step (the reference's; its train/mse repeated total_loss)
    <name>/eval/<metric>                          every log epoch; mse is named mse_transformed (TAGS)
    mean/eval/<metric>                            the image mean at every log epoch (what HParams reads)
    <name>/abs_error, <name>/reconstruction, <name>/target, <name>/data/transform   images
    <name>/data/before, <name>/data/after         histograms (one stable tag for every transform)
A sweep's own run <log_dir>/_compare overlays the sets' `after` histograms per sample (util/compare.py).
"""
import math
import os

import torch

# A perceptually ordered dark-to-bright map (anchors of matplotlib's "inferno"), enough for error maps.
_INFERNO = torch.tensor([
    [0.001, 0.000, 0.014], [0.258, 0.039, 0.406], [0.578, 0.148, 0.404],
    [0.865, 0.317, 0.226], [0.988, 0.645, 0.040], [0.988, 0.998, 0.645]])

# Metric keys whose TensorBoard name says more than results.json's (which keeps the reference's names).
TAGS = {"mse": "mse_transformed"}  # the loss in the transform's own domain: not comparable across transforms
METRIC_ORDER = ("psnr", "ssim_ref", "ssim", "lpips", "snr", "si_snr", "abs_error_max", "mse")


def colormap(x):
    """Values in [0, 1] of shape (H, W) -> RGB (3, H, W) in [0, 1]."""
    x = x.clamp(0, 1) * (len(_INFERNO) - 1)
    i = x.floor().long().clamp(max=len(_INFERNO) - 2)
    w = (x - i).unsqueeze(-1)
    rgb = _INFERNO[i] * (1 - w) + _INFERNO[i + 1] * w
    return rgb.permute(2, 0, 1)


# ---- error maps ---------------------------------------------------------------------------------

MAP_MIN_SIDE = 192  # small images are enlarged (nearest neighbour, an integer factor) so the bar's text fits
HEADER, GAP, BAR, LABELS = 16, 8, 14, 48  # pixels: the text line above, map-to-bar gap, bar width, tick text


def error_map_layout(h, w):
    """(factor, top): the map occupies rows top .. top + h * factor and columns 0 .. w * factor."""
    return max(1, math.ceil(MAP_MIN_SIDE / max(h, w))), HEADER


def error_map(err, scale, unit="levels"):
    """An error map (H, W) in signal units on the fixed colour scale [0, scale] (brighter than the
    scale's top is shown as the top colour), with a colour bar labelled in `unit` and the map's own
    maximum marked on the bar: RGB (3, H', W') in [0, 1]."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    h, w = err.shape
    k, top = error_map_layout(h, w)
    rgb = colormap(err.float() / scale).repeat_interleave(k, 1).repeat_interleave(k, 2)
    hk, wk = h * k, w * k
    canvas = np.full((top + hk + 6, wk + GAP + BAR + LABELS, 3), 255, dtype=np.uint8)
    canvas[top:top + hk, :wk] = (rgb.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    bar = colormap(torch.linspace(1, 0, hk).unsqueeze(1).expand(hk, BAR))  # top of the bar is `scale`
    canvas[top:top + hk, wk + GAP:wk + GAP + BAR] = (bar.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    img = Image.fromarray(canvas)
    draw, font = ImageDraw.Draw(img), ImageFont.load_default(size=11)
    peak = float(err.max())
    draw.text((2, 1), f"|error| in {unit}; max {peak:.3g}", fill=(0, 0, 0), font=font)
    x = wk + GAP + BAR + 3
    for frac in (1.0, 0.5, 0.0):
        y = top + round((1 - frac) * (hk - 1))
        draw.line([(wk + GAP + BAR, y), (x, y)], fill=(0, 0, 0))
        draw.text((x + 1, min(max(y - 6, 0), top + hk - 10)), f"{frac * scale:.3g}", fill=(0, 0, 0), font=font)
    y = top + round((1 - min(peak / scale, 1.0)) * (hk - 1))  # the map's own maximum, on the fixed scale
    draw.line([(wk + GAP - 4, y), (wk + GAP + BAR - 1, y)], fill=(0, 160, 255), width=2)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255


# ---- the writer, scalars, HParams ------------------------------------------------------------------

def make_writer(folder):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=folder)


def metric_tag(key):
    return TAGS.get(key, key)


def _ordered_metrics(keys):
    return sorted(keys, key=lambda k: (METRIC_ORDER.index(k) if k in METRIC_ORDER else len(METRIC_ORDER), k))


def write_means(writer, means):
    """The image means of every logged epoch ({epoch: {metric: value}}, util.recorder's mean()) as
    mean/eval/<metric>. Written once every sample has logged (a folder fits its samples one after
    another); TensorBoard orders the steps itself. Returns the tags written."""
    tags = set()
    for epoch, row in means.items():
        for k, v in row.items():
            if isinstance(v, float) and math.isfinite(v):
                writer.add_scalar(f"mean/eval/{metric_tag(k)}", v, global_step=int(epoch))
                tags.add(k)
    return [f"mean/eval/{metric_tag(k)}" for k in _ordered_metrics(tags)]


# Free-form strings that differ from run to run (a path, a device): a discrete domain cannot list them,
# TensorBoard warns about a string column without one, and the run's name already says where it is.
HPARAM_SKIP = {"save_dir", "tag", "up_folder_name", "device", "input_path", "run_folder", "resume", "eval_ckpt"}
# The columns a sweep differs in, first (TensorBoard shows the first five): (option, column name).
HPARAM_FIRST = (("set", "parameter set"), ("transform", "transform"), ("seed", "seed"), ("model_type", "backbone"),
                ("hidden_features", "width"), ("hidden_layers", "depth"), ("lr", "lr"), ("lr_schedule", "lr schedule"),
                ("num_epochs", "epochs"),
                ("pn_cum", "pn_cum"), ("pn_buffer", "pn_buffer"), ("pn_alpha", "pn_alpha"), ("pn_k", "pn_k"),
                ("pn_beta", "pn_beta"), ("gamma_boundary", "gamma_boundary"), ("gamma_trans", "gamma_trans"))


def hparam_columns(args, domains):
    """[(option, column name, value, discrete domain or None)] in HParams order: HPARAM_FIRST, then the
    other options alphabetically. `set` is the parameter set without its seed (run.py --seeds tags a
    run <set>_seed<N>), so the seeds of one set group. `domains`: {option: the names it can take} for
    the options whose values come from the project's tables (the caller's: this layer knows none);
    `set` gets every parameter set named there and this run's own."""
    from util.runs import seed_free_tag

    choices = {k: list(v) for k, v in domains.items()}
    the_set = seed_free_tag(str(args.get("tag")), args.get("seed"))
    choices["set"] = list(dict.fromkeys([*choices.get("set", []), the_set]))
    values = {**args, "set": the_set}  # resolved options (opt.resolve): lr is the one the run used
    first = [k for k, _ in HPARAM_FIRST]
    names = dict(HPARAM_FIRST)
    rest = sorted((k for k in values if k not in first and k not in HPARAM_SKIP), key=str.lower)
    out = []
    for k in first + rest:
        v = values.get(k)
        if isinstance(v, str) and k not in choices:
            continue  # a free string: see HPARAM_SKIP
        domain = [False, True] if isinstance(v, bool) else choices.get(k)
        out.append((k, names.get(k, k), v, domain))
    return out


def write_hparams(writer, args, means, domains):
    """The run's options and image-mean metrics in TensorBoard's HParams tab (a whole sweep compares
    there), written into the run's own events file so that every run is one row.

    The configuration is declared (each column's type and domain, the metrics), so TensorBoard shows
    the columns in HPARAM_FIRST's order: it sorts them by name, hence the numbered names (the column
    shows the plain one). The metrics are mean/eval/<metric>: the table shows the last epoch's value
    and "show metrics" draws each run's curve."""
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    tags = write_means(writer, means)
    run_name = os.path.basename(os.path.normpath(writer.get_logdir()))  # the table's Trial ID
    infos, start = [], plugin_data_pb2.SessionStartInfo(group_name=run_name)
    for i, (k, label, v, domain) in enumerate(hparam_columns(args, domains)):
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
        api_pb2.MetricInfo(name=api_pb2.MetricName(tag=t), display_name=t.split("/")[-1]) for t in tags])
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS)
    for tag, data in ((metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment)),
                      (metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_start_info=start)),
                      (metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end))):
        summary = Summary()
        summary.value.add(tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR)
        writer._get_file_writer().add_summary(summary)

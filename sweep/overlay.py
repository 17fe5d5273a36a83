"""Per sample, every set's transformed-data histogram in one picture (TensorBoard cannot overlay runs in one
card) in <log_dir>/_overlay; and per set a run <log_dir>/_sets/<set>: its final metrics' mean over seeds.
"""
import contextlib
import glob
import io
import os
import statistics
import time

import matplotlib
import numpy as np
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from util.errors import InputError
from util.io import atomic_write, safe_name
from util.readers import read_results

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

OVERLAY = "_overlay"  # the sweep's own TensorBoard run, beside its run folders (no args.json: not a run)
AFTER = "/data/after"
BINS = 100  # of the overlaid histograms, over the range of every set's transformed data


def after_histograms(folder):
    """{sample: (edges, counts)} of a run folder's `<sample>/data/after` histograms (the first step)."""
    acc = ea.EventAccumulator(folder, size_guidance={ea.HISTOGRAMS: 1, ea.IMAGES: 1, ea.SCALARS: 1, ea.TENSORS: 1})
    acc.Reload()
    out = {}
    for tag in acc.Tags().get("histograms", []):
        if tag.endswith(AFTER):
            h = acc.Histograms(tag)[0].histogram_value
            limits, counts = list(h.bucket_limit), list(h.bucket)
            if counts:  # bucket limits are right edges; the first bin starts at the data's minimum
                out[tag[:-len(AFTER)]] = ([min(h.min, limits[0])] + limits, counts)
    return out


def overlay_figure(sample, series):
    """series: [(parameter set, edges, counts)]: one density curve each, on the transformed axis."""
    # every set on one grid of BINS bins (mass moved by interpolating each one's cumulative counts), so
    # the curves compare bin for bin and a transform's uneven level spacing draws no combs
    lo, hi = min(e[0] for _, e, _ in series), max(e[-1] for _, e, _ in series)
    grid = np.linspace(lo, hi, BINS + 1) if hi > lo else np.array([lo - 0.5, lo + 0.5])
    from util.palette import styles

    style = styles([label for label, _, _ in series])
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, edges, counts in series:
        e, c = np.asarray(edges, dtype=float), np.asarray(counts, dtype=float)
        cdf = np.interp(grid, e, np.concatenate([[0.0], np.cumsum(c)]))
        ax.stairs(np.diff(cdf) / max(c.sum(), 1) / np.diff(grid), grid, label=label, linewidth=1.4,
                  color=style[label][0], ls=style[label][1])
    ax.set(title=f"{sample}: the data after each transform", xlabel="transformed value (the network's target)",
           ylabel="density")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


SETS = "_sets"  # per parameter set a run holding its final metrics averaged over seeds (HParams rows)
KEYS = ("psnr", "ssim_ref", "ssim", "lpips", "snr", "si_snr")  # the image-mean metrics averaged over seeds


def set_means(runs):
    """{parameter set: {"epoch", "seeds", metric: [last epoch's image mean, one per seed]}} of `runs`."""
    out = {}
    for label, folder in runs:
        with contextlib.suppress(InputError):  # a run without (readable) results has no mean to add
            mean = read_results(os.path.join(folder, "results.json"))["mean"]
            last = max(mean, key=int, default=None)
            if last:
                row = out.setdefault(label, {"epoch": set(), "seeds": 0})
                row["epoch"].add(last)
                row["seeds"] += 1
                for k in KEYS:
                    if isinstance(mean[last].get(k), float):
                        row.setdefault(k, []).append(mean[last][k])
    return out


def write_set_sessions(log_dir, means):
    """Per set a run <log_dir>/_sets/<set> that HParams lists beside the sweep's runs, its seeds' mean metrics."""
    for label, m in means.items():
        folder = os.path.join(log_dir, SETS, safe_name(label))
        for old in glob.glob(os.path.join(glob.escape(folder), "events.out.tfevents.*")):
            os.unlink(old)
        start = plugin_data_pb2.SessionStartInfo(group_name=f"{label}, mean of {m['seeds']} seed(s)")
        start.hparams["00 set"].string_value = label
        end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS)
        values = [summary_pb2.Summary.Value(tag=f"mean/eval/{k}", simple_value=statistics.mean(m[k]))
                  for k in KEYS if k in m]
        for tag, data in ((metadata.SESSION_START_INFO_TAG, plugin_data_pb2.HParamsPluginData(
                session_start_info=start)), (metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(
                session_end_info=end))):
            values.append(summary_pb2.Summary.Value(tag=tag, metadata=metadata.create_summary_metadata(data),
                                                    tensor=metadata.NULL_TENSOR))
        writer = EventFileWriter(folder)
        writer.add_event(event_pb2.Event(wall_time=time.time(), step=int(max(m["epoch"], key=int)),
                                         summary=summary_pb2.Summary(value=values)))
        writer.close()


def write_overlay(log_dir, runs):
    """The PNGs written for `runs` [(set, folder)], the first of each set (its seeds fit the same data)."""
    firsts = {}
    for label, folder in runs:
        firsts.setdefault(label, folder)
    if len(firsts) < 2:
        return []
    by_sample = {}
    for label, folder in firsts.items():
        for sample, (edges, counts) in after_histograms(folder).items():
            by_sample.setdefault(sample, []).append((label, edges, counts))
    out_dir = os.path.join(log_dir, OVERLAY)
    os.makedirs(out_dir, exist_ok=True)
    for old in glob.glob(os.path.join(glob.escape(out_dir), "events.out.tfevents.*")):
        os.unlink(old)  # this folder is the sweep's own: one picture per sample, of the sweep as it is now
    writer, written = EventFileWriter(out_dir), []
    try:
        for sample, series in sorted(by_sample.items()):
            if len(series) < 2:
                continue
            fig = overlay_figure(sample, series)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100)
            w, h = (int(round(v)) for v in fig.get_size_inches() * 100)
            plt.close(fig)
            png = buf.getvalue()
            path = os.path.join(out_dir, f"{safe_name(sample)}_after.png")
            atomic_write(path, lambda f: f.write(png), mode="wb")
            image = summary_pb2.Summary.Image(height=h, width=w, colorspace=4, encoded_image_string=png)
            value = summary_pb2.Summary.Value(tag=f"{sample}{AFTER}, every set", image=image)
            writer.add_event(event_pb2.Event(wall_time=time.time(), step=0, summary=summary_pb2.Summary(value=[value])))
            written.append(path)
    finally:
        writer.close()
    return written

"""Figures. The paper's key figure for a file: the data's histogram before and after the transform,
and the transform curve itself (`python -m components.transform PATH --plot OUT.png`). Training
curves: PSNR (or another metric) against epoch per parameter set (`python summarize.py LOG_DIR --plot OUT.png`)."""
import math
import os
import textwrap

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from util.errors import OptionError
from util.io import write_output

# The formats a plot's file name may ask for by its suffix: what matplotlib writes here (jpg and webp
# through Pillow). Not raw / rgba (bare pixels, no header) nor pgf (needs a LaTeX installation).
PLOT_FORMATS = ("png", "pdf", "svg", "svgz", "jpg", "jpeg", "tif", "tiff", "webp", "eps", "ps")


def plot_format(path):
    """The format OUT's suffix names (x.pdf: PDF), or OptionError listing the ones a plot can be."""
    ext = os.path.splitext(str(path))[1].lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        said = f"a .{ext} file" if ext else "a file without a suffix"
        raise OptionError(f"--plot {path}: cannot write a plot as {said}; name one of "
                          f"{', '.join('.' + f for f in PLOT_FORMATS)}")
    return ext

MAX_ROWS = 4


def level_bins(data, max_bins=256):
    """Histogram bins that match the data's levels, so no bin is empty between two filled ones (no
    combs): integer-valued data (8- or 16-bit images) get one bin per level, or an equal number of
    levels per bin when there are more than max_bins levels; other data max_bins equal bins.
    Returns (centres, edges) in data units, float64 numpy arrays."""
    x = data.detach().flatten().double()
    lo, hi = float(x.min()), float(x.max())
    if bool((x == x.round()).all()):
        step = math.ceil((hi - lo + 1) / max_bins)
        edges = np.arange(lo - 0.5, hi + 0.5 + step, step)[: math.ceil((hi - lo + 1) / step) + 1]
    else:
        edges = np.linspace(lo, hi, max_bins + 1) if hi > lo else np.array([lo - 0.5, lo + 0.5])
    return (edges[:-1] + edges[1:]) / 2, edges


def transform_histograms(data, tf):
    """The data's histogram on level_bins and the same counts on the transformed axis: each bin moves
    where the transform takes it (the transforms are monotone), its edges half-way between the
    transformed centres. Returns (counts, edges before, edges after), numpy arrays."""
    x = data.detach().flatten().double().cpu().numpy()
    centres, edges = level_bins(data)
    counts, _ = np.histogram(x, bins=edges)
    yc = tf.forward(torch.from_numpy(centres)).double().numpy()
    if len(yc) > 1 and yc[-1] < yc[0]:  # a negative scale turns the axis round
        yc, counts = yc[::-1].copy(), counts[::-1].copy()
    if len(yc) == 1:
        after = np.array([yc[0] - 0.5, yc[0] + 0.5])
    else:
        mid = (yc[:-1] + yc[1:]) / 2
        after = np.concatenate([[2 * yc[0] - mid[0]], mid, [2 * yc[-1] - mid[-1]]])
    return counts, edges, after


def _density(counts, edges):
    return counts / max(counts.sum(), 1) / (edges[1:] - edges[:-1])


def transform_figure(rows, row_name):
    """rows: [(name, data, transformed, transform)]; one row of three panels per sample: the data's
    histogram, the transformed data's, and the transform curve, with the median and (sym-power) the
    soft boundary L, R marked. Returns the matplotlib figure."""
    rows = rows[:MAX_ROWS]
    fig, axes = plt.subplots(len(rows), 3, figsize=(13, 3.4 * len(rows)), squeeze=False)
    for (name, data, y, tf), (ax_before, ax_after, ax_curve) in zip(rows, axes):
        counts, before, after = transform_histograms(data, tf)
        p = tf.params
        lo, hi = float(data.min()), float(data.max())
        left, right = float(p.get("left") or 0.0), float(p.get("right") or 0.0)
        med = float(data.detach().flatten().double().median())
        med_y = float(y.detach().flatten().double().median())
        levels = bool((data == data.round()).all())
        unit = " (levels)" if levels else ""
        ax_before.stairs(_density(counts, before), before, fill=True, color="0.45")
        ax_before.axvline(med, color="tab:green", ls="--", lw=1, label=f"median {med:.4g}")
        ax_after.stairs(_density(counts, after), after, fill=True, color="tab:blue")
        ax_after.axvline(med_y, color="tab:green", ls="--", lw=1, label=f"median {med_y:.4g}")
        grid = torch.linspace(lo - left, hi + right, 512, dtype=torch.float64)
        ax_curve.plot(grid.numpy(), tf.forward(grid).double().numpy(), color="tab:red")
        ax_curve.plot([med], [float(tf.forward(torch.tensor([med], dtype=torch.float64))[0])], "o",
                      color="tab:green", ms=4, label="median")
        for ax in (ax_before, ax_curve):  # the range the transform maps to [-1, 1]: min - L .. max + R
            if left > 0:
                ax.axvspan(lo - left, lo, color="tab:orange", alpha=0.3, lw=0)
                ax.axvline(lo - left, color="tab:orange", lw=1, label=f"min - L (L {left:.3g})")
            if right > 0:
                ax.axvspan(hi, hi + right, color="tab:purple", alpha=0.3, lw=0)
                ax.axvline(hi + right, color="tab:purple", lw=1, label=f"max + R (R {right:.3g})")
        ax_before.set_title(f"{name}: data")
        ax_before.set_xlabel("data value" + unit)
        ax_before.set_ylabel("density")
        ax_after.set_title(f"after {row_name}")
        ax_after.set_xlabel("transformed value (the network's target)")
        ax_after.set_ylabel("density")
        ax_curve.set_title(", ".join(f"{k} {v:.3g}" for k, v in p.items()
                                     if k in ("gamma", "left", "right", "lmbda") and v is not None) or tf.name)
        ax_curve.set_xlabel("data value" + unit)
        ax_curve.set_ylabel("transformed value")
        for ax in (ax_before, ax_after, ax_curve):
            ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def plot_transforms(rows, out_path, row_name):
    """transform_figure in the format OUT's suffix names (`python -m components.transform PATH --plot OUT.png`)."""
    fmt = plot_format(out_path)
    fig = transform_figure(rows, row_name)
    write_output(out_path, lambda f: fig.savefig(f, format=fmt, dpi=80), mode="wb")
    plt.close(fig)


def row_colours(panels):
    """{row name: colour}: one colour per row of the summariser, the same in every panel and figure
    (tab10, then tab20's light shades: 20 rows before a colour repeats)."""
    light = matplotlib.colormaps["tab20"].colors[1::2]
    palette = [f"C{i}" for i in range(10)] + [matplotlib.colors.to_hex(c) for c in light]
    names = list(dict.fromkeys(c["row"] for _, series, *_ in panels for c in series))
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def draw_curves(ax, title, series, colours, ylabel):
    """A metric against epoch, one line per row (series: summarize.curves), a band of +- one
    standard deviation over seeds where there is one, and the paper's values as crosses."""
    for c in series:
        colour = colours[c["row"]]
        ax.plot(c["epochs"], c["mean"], marker="o" if len(c["epochs"]) < 12 else None, ms=3, label=c["label"],
                color=colour)
        if c["std"] is not None:
            lo = [m - sd for m, sd in zip(c["mean"], c["std"])]
            hi = [m + sd for m, sd in zip(c["mean"], c["std"])]
            ax.fill_between(c["epochs"], lo, hi, color=colour, alpha=0.2, linewidth=0)
        if c.get("paper"):
            ax.plot(list(c["paper"]), list(c["paper"].values()), "x", color=colour, ms=9, mew=2)
    handles, _ = ax.get_legend_handles_labels()
    if any(c["std"] is not None for c in series):
        handles.append(Patch(color="0.5", alpha=0.3, label="band: ± 1 std over seeds"))
    if any(c.get("paper") for c in series):
        handles.append(Line2D([], [], ls="", marker="x", color="0.3", mew=2, label="the paper's value"))
    ax.set_title(textwrap.fill(title, 72), fontsize=10)  # a long data path must not run off the figure
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=8)


WHISKER_ROWS = 4  # with more rows the per-image whiskers (± 1 std over seeds) would hide the points


def draw_differences(ax, compared, colours, ylabel, baseline):
    """Per image, each row's paired difference against the baseline (mean over seeds; with few rows
    +- one std over seeds), images sorted by the rows' mean difference, and at the right each row's
    mean difference with its 95% interval; zero (the baseline) in the baseline row's colour."""
    images = sorted({i for c in compared.values() for i in c["per_image"]},
                    key=lambda i: sum(c["per_image"].get(i, 0.0) for c in compared.values()))
    x = {i: n for n, i in enumerate(images)}
    width = 0.7 / max(len(compared), 1)
    whiskers = len(compared) <= WHISKER_ROWS
    for k, (name, c) in enumerate(compared.items()):
        colour = colours.get(name, f"C{k % 10}")
        off = (k - (len(compared) - 1) / 2) * width
        std = [c["per_image_std"].get(i) or 0.0 for i in c["per_image"]] if whiskers else None
        ax.errorbar([x[i] + off for i in c["per_image"]], list(c["per_image"].values()), yerr=std, fmt="o", ms=4,
                    color=colour, capsize=2, lw=1,
                    label=f"{name}: {c['mean_delta']:+.2f} [{c['ci95'][0]:+.2f}, {c['ci95'][1]:+.2f}], "
                          f"W/T/L {c['wins']}/{c['ties']}/{c['losses']}")
        lo, hi = c["ci95"]
        ax.errorbar([len(images) + 1 + 2 * off], [c["mean_delta"]], yerr=[[c["mean_delta"] - lo], [hi - c["mean_delta"]]],
                    fmt="D", ms=5, color=colour, capsize=3, lw=2)
    ax.axhline(0, color=colours.get(baseline, "black"), lw=1.5, label=f"{baseline} (the baseline)")
    ax.axvline(len(images) - 0.4, color="0.6", lw=0.8)
    ax.set_xticks(list(range(len(images))) + [len(images) + 1], images + ["mean"],
                  rotation=90 if len(images) > 12 else 0)
    ax.set_xlim(-0.6, len(images) + 1.9)
    ax.set_xlabel("image (sorted by the rows' mean difference)")
    ax.set_ylabel(f"{ylabel}: row minus {baseline}, same seed")
    ax.set_title(f"paired differences against {baseline}, per image (mean over seeds"
                 + (", ± 1 std" if whiskers else "") + ");\nright: the mean with its 95% bootstrap interval",
                 fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2 if len(images) > 12 else -0.13),
              ncol=2 if len(compared) > 3 else 1, frameon=False)


def _legend_height(panels):
    """Inches under a differences panel for its legend (two columns beyond three rows)."""
    rows = max((len(c) for *_, c in panels if c), default=0)
    return 0.25 * (rows if rows <= 3 else (rows + 1) // 2) + 0.6


def summary_figure(panels, ylabel, metric_label, baseline=None):
    """panels: [(title, curves, paired comparison or None)] per experiment: its curves, and beside
    them the per-image paired differences where there is a comparison. Returns the matplotlib figure."""
    colours = row_colours(panels)
    paired = any(c for *_, c in panels)
    fig, axes = plt.subplots(len(panels) if paired else 1, 2 if paired else len(panels), squeeze=False,
                             figsize=(15, 5.2 * len(panels) + _legend_height(panels)) if paired else
                             (6.5 * len(panels), 4.5))
    for n, (title, series, compared) in enumerate(panels):
        ax = axes[n, 0] if paired else axes[0, n]
        draw_curves(ax, title, series, colours, ylabel)
        if paired:
            if compared:
                bases = list(dict.fromkeys(c["baseline"] for c in compared.values()))  # one per protocol
                draw_differences(axes[n, 1], compared, colours, metric_label,
                                 bases[0] if len(bases) == 1 else f"{baseline} of its protocol")
            else:
                axes[n, 1].set_axis_off()
    fig.tight_layout()
    return fig


def plot_summary(panels, out_path, ylabel, metric_label, baseline=None):
    """summary_figure in the format OUT's suffix names (`python summarize.py LOG_DIR --plot OUT.png [--baseline ROW]`)."""
    fmt = plot_format(out_path)
    fig = summary_figure(panels, ylabel, metric_label, baseline)
    write_output(out_path, lambda f: fig.savefig(f, format=fmt, dpi=110), mode="wb")
    plt.close(fig)

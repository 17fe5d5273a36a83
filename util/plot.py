"""Figures. The paper's key figure for a file: the data's histogram before and after the transform,
and the transform curve itself (`python -m components.transform PATH --plot OUT.png`). Training
curves: PSNR (or another metric) against epoch per parameter set (`python summarize.py LOG_DIR --plot OUT.png`)."""
import math
import os
import textwrap

import numpy as np
import torch

from util.errors import OptionError
from util.io import write_output
from util.palette import colour, styles

# The formats a plot's file name may ask for by its suffix: what matplotlib writes here (jpg and webp
# through Pillow). Not raw / rgba (bare pixels, no header) nor pgf (needs a LaTeX installation).
PLOT_FORMATS = ("png", "pdf", "svg", "svgz", "jpg", "jpeg", "tif", "tiff", "webp", "eps", "ps")


def plot_format(path, option="--plot"):
    """The format OUT's suffix names (x.pdf: PDF), or OptionError listing the ones a plot can be."""
    ext = os.path.splitext(str(path))[1].lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        said = f"a .{ext} file" if ext else "a file without a suffix"
        raise OptionError(f"{option} {path}: cannot write a plot as {said}; name one of "
                          f"{', '.join('.' + f for f in PLOT_FORMATS)}")
    return ext

MAX_ROWS = 4


def pyplot():
    """matplotlib's pyplot on the file-only backend, loaded when a figure is drawn: a fit logs the transform's
    histograms through this module, and with --no_images it draws nothing (matplotlib takes 0.3 to 0.7 s)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt
    return plt


def level_bins(data, max_bins=256):
    """Histogram bins that match the data's levels, so no bin is empty between two filled ones (no combs):
    integer data get a whole number of levels per bin (at most max_bins), other data max_bins equal bins.
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
    """The data's histogram on level_bins and the same counts on the transformed axis (the transforms are
    monotone), edges half-way between the transformed centres. Returns (counts, edges before, edges after)."""
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
    fig, axes = pyplot().subplots(len(rows), 3, figsize=(13, 3.4 * len(rows)), squeeze=False)
    for (name, data, y, tf), (ax_before, ax_after, ax_curve) in zip(rows, axes):
        counts, before, after = transform_histograms(data, tf)
        p = tf.params
        lo, hi = float(data.min()), float(data.max())
        left, right = float(p.get("left") or 0.0), float(p.get("right") or 0.0)
        med = float(data.detach().flatten().double().median())
        med_y = float(y.detach().flatten().double().median())
        unit = " (levels)" if bool((data == data.round()).all()) else ""
        for ax, edges, m, c in ((ax_before, before, med, "0.45"), (ax_after, after, med_y, colour(row_name))):
            ax.stairs(_density(counts, edges), edges, fill=True, color=c)
            ax.axvline(m, color="tab:green", ls="--", lw=1, label=f"median {m:.4g}")
        grid = torch.linspace(lo - left, hi + right, 512, dtype=torch.float64)
        ax_curve.plot(grid.numpy(), tf.forward(grid).double().numpy(), color=colour(row_name))
        ax_curve.plot([med], [float(tf.forward(torch.tensor([med], dtype=torch.float64))[0])], "o",
                      color="tab:green", ms=4, label="median")
        for ax in (ax_before, ax_curve):  # the range the transform maps to [-1, 1]: min - L .. max + R
            if left > 0:
                ax.axvspan(lo - left, lo, color="tab:orange", alpha=0.3, lw=0)
                ax.axvline(lo - left, color="tab:orange", lw=1, label=f"min - L (L {left:.3g})")
            if right > 0:
                ax.axvspan(hi, hi + right, color="tab:purple", alpha=0.3, lw=0)
                ax.axvline(hi + right, color="tab:purple", lw=1, label=f"max + R (R {right:.3g})")
        ax_before.set(title=f"{name}: data", xlabel="data value" + unit, ylabel="density")
        ax_after.set(title=f"after {row_name}", xlabel="transformed value (the network's target)", ylabel="density")
        ax_curve.set(title=", ".join(f"{k} {v:.3g}" for k, v in p.items()
                                     if k in ("gamma", "left", "right", "lmbda") and v is not None) or tf.name,
                     xlabel="data value" + unit, ylabel="transformed value")
        for ax in (ax_before, ax_after, ax_curve):
            ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def wrapped(text, ax, fontsize):
    """text in lines that fit over the axes (a long data path must not run off the figure): matplotlib's
    DejaVu Sans averages under 0.6 em a character."""
    width_pt = ax.get_position().width * ax.figure.get_figwidth() * 72
    return textwrap.fill(text, max(20, int(width_pt / (0.6 * fontsize))))


def draw_curves(ax, title, series, styles, ylabel):
    """A metric against epoch, one line per row (series: summarize.curves) in its transform's colour, a band
    of +- one standard deviation over seeds where there is one, and the paper's values as crosses."""
    for c in series:
        colour, ls = styles[c["row"]]
        ax.plot(c["epochs"], c["mean"], marker="o" if len(c["epochs"]) < 12 else None, ms=3, label=c["label"],
                color=colour, ls=ls)
        if c["std"] is not None:
            ax.fill_between(c["epochs"], [m - sd for m, sd in zip(c["mean"], c["std"])],
                            [m + sd for m, sd in zip(c["mean"], c["std"])], color=colour, alpha=0.2, linewidth=0)
        if c.get("paper"):
            ax.plot(list(c["paper"]), list(c["paper"].values()), "x", color=colour, ms=9, mew=2)
    handles, _ = ax.get_legend_handles_labels()
    if any(c["std"] is not None for c in series):
        from matplotlib.patches import Patch
        handles.append(Patch(color="0.5", alpha=0.3, label="band: ± 1 std over seeds"))
    if any(c.get("paper") for c in series):
        from matplotlib.lines import Line2D
        handles.append(Line2D([], [], ls="", marker="x", color="0.3", mew=2, label="the paper's value"))
    ax.set_title(wrapped(title, ax, 9), fontsize=9)
    ax.set(xlabel="epoch", ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(handles=handles, fontsize=7)


def draw_differences(ax, name, c, style, ylabel):
    """One row's paired differences against its baseline, per image (the mean over seeds), its images sorted
    by its own difference, on its own scale; at the right the mean with the table's 95% t-interval and
    the median; the numbers and the method in the title."""
    colour, _ = style
    images = sorted(c["per_image"], key=c["per_image"].get)
    ax.plot(range(len(images)), [c["per_image"][i] for i in images], "o", ms=4, color=colour)
    x = len(images) + 0.5
    if c["ci95"]:
        lo, hi = c["ci95"]
        ax.errorbar([x], [c["mean_delta"]], yerr=[[c["mean_delta"] - lo], [hi - c["mean_delta"]]], fmt="D", ms=5,
                    color=colour, capsize=4, lw=2)
    ax.plot([x + 1], [c["median_delta"]], "s", ms=5, color=colour, mfc="white")
    ax.axhline(0, color="black", lw=1)
    ax.set_xticks(list(range(len(images))) + [x, x + 1], images + ["mean", "median"], rotation=90, fontsize=7)
    ax.set_ylabel(f"{ylabel}: minus {c['baseline']}")
    ci = "[" + ", ".join(f"{v:+.2f}" for v in c["ci95"]) + "]" if c["ci95"] else "(no interval)"
    ax.set_title(wrapped(f"{name}: mean {c['mean_delta']:+.2f} {ci} (95% t over {c['n_images']} images, "
                         f"{len(c['seeds'])} seed(s)), median {c['median_delta']:+.2f}, signed-rank p "
                         f"{c['p_signed_rank']:.2g}, W/T/L {c['wins']}/{c['ties']}/{c['losses']}: "
                         f"{c['verdict']}", ax, 8), fontsize=8)
    ax.grid(alpha=0.3, axis="y")


COLUMNS = 4  # axes per line of the summary figure


def summary_figure(panels, ylabel, metric_label):
    """panels: [(title, curves, paired comparison or None)] per experiment (and image set): its curves,
    then an axis per compared row (its per-image differences), COLUMNS to a line. Returns the figure."""
    style = styles([c["row"] for _, series, _ in panels for c in series])
    lines = [math.ceil((1 + len(compared or {})) / COLUMNS) for *_, compared in panels]
    cols = min(COLUMNS, max(1 + len(compared or {}) for *_, compared in panels))
    fig, axes = pyplot().subplots(sum(lines), cols, squeeze=False, figsize=(5.2 * cols, 4.6 * sum(lines)))
    top = 0
    for (title, series, compared), n in zip(panels, lines):
        slots = iter(axes[top:top + n].flat)
        draw_curves(next(slots), title, series, style, ylabel)
        for name, c in (compared or {}).items():
            draw_differences(next(slots), name, c, style.get(name, ("black", "-")), metric_label)
        for ax in slots:
            ax.set_axis_off()
        top += n
    fig.tight_layout()
    return fig


def why_figure(rows, metric_label):
    """rows: [(title, comparison)]: a line per compared row, an axis per attribute: per-image Δ against it,
    each point named by its image, Spearman's rho and its permutation p in the title. Returns the figure."""
    cols = max(len(c["correlations"]) for _, c in rows)
    fig, axes = pyplot().subplots(len(rows), cols, squeeze=False, figsize=(3.6 * cols, 3.4 * len(rows)))
    for (title, c), line in zip(rows, axes):
        for ax, (k, r) in zip(line, c["correlations"].items()):
            images = [i for i in c["per_image"] if i in c["attributes"][k]]
            x, y = [c["attributes"][k][i] for i in images], [c["per_image"][i] for i in images]
            ax.scatter(x, y, s=14, color=colour(title.split(": ")[-1]))
            for i, xi, yi in zip(images, x, y):
                ax.annotate(i, (xi, yi), fontsize=6, xytext=(2, 2), textcoords="offset points")
            ax.axhline(0, color="black", lw=0.8)
            ax.set_xlabel(k, fontsize=8)
            ax.set_title(f"ρ {r['rho']:+.2f}, permutation p {r['p']:.2g}", fontsize=8)
        line[0].set_ylabel(textwrap.fill(f"{title}\n{metric_label} Δ vs {c['baseline']}", 40), fontsize=8)
        for ax in line[len(c["correlations"]):]:
            ax.set_axis_off()
    fig.tight_layout()
    return fig


def save_figure(fig, out_path, dpi=110):
    """A figure in the format OUT's suffix names (summarize.py's and components.transform's --plot)."""
    fmt = plot_format(out_path)
    write_output(out_path, lambda f: fig.savefig(f, format=fmt, dpi=dpi), mode="wb")
    pyplot().close(fig)

"""Figures. The paper's key figure for a file: the data's histogram before and after the transform,
and the transform curve itself (`python -m components.transform PATH --plot OUT.png`). Training
curves: PSNR (or another metric) against epoch per parameter set (`python summarize.py LOG_DIR --plot OUT.png`)."""
import math
import os

import torch

from util.errors import OptionError
from util.io import atomic_write

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
    import numpy as np

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
    import numpy as np

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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    import matplotlib.pyplot as plt

    fmt = plot_format(out_path)
    fig = transform_figure(rows, row_name)
    atomic_write(out_path, lambda f: fig.savefig(f, format=fmt, dpi=80), mode="wb")
    plt.close(fig)


def curves_figure(panels, ylabel="PSNR (dB), mean over images"):
    """panels: [(title, [(label, epochs, mean, std or None)])]: a metric against epoch, one panel per
    experiment, one line per row, a band of +- one standard deviation over seeds where there is one
    (named in the legend). Returns the matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
    for (title, series), ax in zip(panels, axes[0]):
        for label, epochs, mean, std in series:
            line, = ax.plot(epochs, mean, marker="o" if len(epochs) < 12 else None, ms=3, label=label)
            if std is not None:
                lo = [m - s for m, s in zip(mean, std)]
                hi = [m + s for m, s in zip(mean, std)]
                ax.fill_between(epochs, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
        handles, _ = ax.get_legend_handles_labels()
        if any(std is not None for *_, std in series):
            handles.append(Patch(color="0.5", alpha=0.3, label="band: ± 1 std over seeds"))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(handles=handles, fontsize=8)
    fig.tight_layout()
    return fig


def plot_curves(panels, out_path, ylabel="PSNR (dB), mean over images"):
    """curves_figure in the format OUT's suffix names (`python summarize.py LOG_DIR --plot OUT.png`)."""
    import matplotlib.pyplot as plt

    fmt = plot_format(out_path)
    fig = curves_figure(panels, ylabel)
    atomic_write(out_path, lambda f: fig.savefig(f, format=fmt, dpi=120), mode="wb")
    plt.close(fig)

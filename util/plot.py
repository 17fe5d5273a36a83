"""Figures. The paper's key figure for a file: the data's histogram before and after the transform,
and the transform curve itself (`python -m components.transform PATH --plot OUT.png`). Training
curves: PSNR against epoch per parameter set (`python -m util.summarize LOG_DIR --plot OUT.png`)."""
import torch

from util.io import atomic_write

MAX_ROWS = 4


def plot_transforms(rows, out_path, row_name):
    """rows: [(file, data, transformed, transform)]; one row of three panels per file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = rows[:MAX_ROWS]
    fig, axes = plt.subplots(len(rows), 3, figsize=(12, 3.2 * len(rows)), squeeze=False)
    for (name, data, y, tf), (ax_before, ax_after, ax_curve) in zip(rows, axes):
        x = data.detach().flatten().double().numpy()
        yv = y.detach().flatten().double().numpy()
        ax_before.hist(x, bins=256, color="0.35")
        ax_before.set_title(f"{name}: data")
        ax_after.hist(yv, bins=256, color="tab:blue")
        ax_after.set_title(f"after {row_name}")
        grid = torch.linspace(float(data.min()), float(data.max()), 512, dtype=torch.float64)
        ax_curve.plot(grid.numpy(), tf.forward(grid).double().numpy(), color="tab:red")
        ax_curve.set_title(", ".join(f"{k} {v:.3g}" for k, v in tf.params.items()
                                     if k in ("gamma", "left", "right", "lmbda") and v is not None) or tf.name)
        ax_curve.set_xlabel("data value")
        ax_curve.set_ylabel("transformed")
    fig.tight_layout()
    atomic_write(out_path, lambda f: fig.savefig(f, format="png", dpi=80), mode="wb")
    plt.close(fig)


def plot_curves(panels, out_path):
    """panels: [(title, [(label, epochs, mean, std or None)])]: PSNR against epoch, one panel per
    experiment, one line per row, a band of +- one standard deviation over seeds where there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
    for (title, series), ax in zip(panels, axes[0]):
        for label, epochs, mean, std in series:
            line, = ax.plot(epochs, mean, marker="o" if len(epochs) < 12 else None, ms=3, label=label)
            if std is not None:
                lo = [m - s for m, s in zip(mean, std)]
                hi = [m + s for m, s in zip(mean, std)]
                ax.fill_between(epochs, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel("PSNR (dB), mean over images")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(out_path, lambda f: fig.savefig(f, format="png", dpi=120), mode="wb")
    plt.close(fig)

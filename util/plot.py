"""The paper's key figure for a file: the data's histogram before and after the transform, and
the transform curve itself. Used by `python -m components.transform PATH --plot OUT.png`."""
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

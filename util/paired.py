"""The paired comparison: which row beats a baseline row, on which image, and by more than the noise.

Per image, a row's last-epoch value minus the baseline's for the same seed (the same draws of the
initial weights), averaged over the seeds both rows ran; wins / ties / losses over the images; and a
95% interval of the mean difference over images and seeds: a percentile bootstrap that resamples the
images, then the seeds within each image (BOOTSTRAP resamples, a fixed generator seed, so the same
runs always give the same interval).
"""
import numpy as np

TIES = {"psnr": 0.05, "snr": 0.05, "si_snr": 0.05}  # dB: a difference within this is a tie
TIE_OTHER = 0.001  # SSIM, LPIPS: unitless
LOWER_IS_BETTER = {"lpips", "mse"}
BOOTSTRAP, BOOTSTRAP_SEED = 10000, 0
FEW_IMAGES = 5  # below this (or one seed) a bootstrap of the mean has too little to resample: said so
INTERVAL = (f"95% percentile bootstrap of the mean difference ({BOOTSTRAP} resamples of the images, then of the "
            f"seeds within each; generator seed {BOOTSTRAP_SEED})")


def default_tie(metric):
    return TIES.get(metric, TIE_OTHER)


def last_values(run, metric):
    """{image: `metric` at the run's last logged epoch} (images whose last value is missing left out)."""
    out = {}
    for image, blocks in run["results"]["samples"].items():
        if blocks:
            v = blocks[max(blocks, key=int)].get(metric)
            if isinstance(v, (int, float)):
                out[image] = float(v)
    return out


def differences(runs, base_runs, metric, image=None):
    """(images, seeds, D): D[i, s] = the row's value on image i minus the baseline's, both of seed s;
    the seeds both rows ran, the images every one of those runs recorded (only `image` if given)."""
    mine = {r["seed"]: last_values(r, metric) for r in runs}
    theirs = {r["seed"]: last_values(r, metric) for r in base_runs}
    seeds = sorted((s for s in mine if s in theirs), key=str)
    if not seeds:
        return [], [], np.zeros((0, 0))
    images = sorted(set.intersection(*(set(mine[s]) & set(theirs[s]) for s in seeds)) & ({image} if image else
                                                                                        set(mine[seeds[0]])))
    d = np.array([[mine[s][i] - theirs[s][i] for s in seeds] for i in images], dtype=np.float64)
    return images, seeds, d.reshape(len(images), len(seeds))


def interval(d):
    """[lo, hi]: the bootstrap's 95% interval of the mean of D (images x seeds)."""
    n_img, n_seed = d.shape
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    pick_img = rng.integers(n_img, size=(BOOTSTRAP, n_img))
    pick_seed = rng.integers(n_seed, size=(BOOTSTRAP, n_img, n_seed))
    means = d[pick_img[..., None], pick_seed].mean(axis=(1, 2))
    lo, hi = np.percentile(means, [2.5, 97.5])
    return [float(lo), float(hi)]


def compare(runs, base_runs, metric, tie, image=None):
    """One row against the baseline: {"per_image", "mean_delta", "ci95", "wins", "ties", "losses",
    "seeds", "per_image_std"}, or None when the rows share no seed and image."""
    images, seeds, d = differences(runs, base_runs, metric, image)
    if not images:
        return None
    per_image = d.mean(axis=1)
    sign = -1 if metric in LOWER_IS_BETTER else 1
    better = sign * per_image
    std = d.std(axis=1, ddof=1) if len(seeds) > 1 else np.full(len(images), np.nan)
    return {"per_image": {i: float(v) for i, v in zip(images, per_image)}, "mean_delta": float(d.mean()),
            "ci95": interval(d), "wins": int((better > tie).sum()), "ties": int((abs(better) <= tie).sum()),
            "losses": int((better < -tie).sum()), "seeds": seeds,
            "per_image_std": {i: (None if np.isnan(v) else float(v)) for i, v in zip(images, std)}}

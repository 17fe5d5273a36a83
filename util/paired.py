"""The paired comparison: which row beats a baseline row, on which image, and by more than the noise:
per image the seed-averaged difference; over images a Student-t interval (chosen by measured coverage:
benchmarks/paired_coverage.py, docs/views.md), the median and a signed-rank test for one image's effects."""
import numpy as np
from scipy import stats

TIES = {"psnr": 0.05, "snr": 0.05, "si_snr": 0.05}  # dB: a difference within this is a tie
TIE_OTHER = 0.001  # SSIM, LPIPS: unitless
LOWER_IS_BETTER = {"lpips", "mse"}
LEVEL = 0.95
MIN_IMAGES = 6  # below this no two-sided signed-rank p can be under 0.05 (its smallest is 2 / 2**n)
METHOD = ("mean over images of the seed-averaged differences with a 95% Student-t interval "
          "(mean ± t(0.975, n-1) sd / sqrt(n)); median; two-sided Wilcoxon signed-rank p (scipy.stats.wilcoxon)")


def last_values(run, metric):
    """{image: `metric` at the run's last logged epoch} (images whose last value is missing left out)."""
    last = {image: b[max(b, key=int)].get(metric) for image, b in run["results"]["samples"].items() if b}
    return {image: float(v) for image, v in last.items() if isinstance(v, (int, float))}


def differences(runs, base_runs, metric, image=None):
    """(images, seeds, D): D[i, s] = the row's value minus the baseline's, on the shared seeds and images."""
    mine = {r["seed"]: last_values(r, metric) for r in runs}
    theirs = {r["seed"]: last_values(r, metric) for r in base_runs}
    seeds = sorted((s for s in mine if s in theirs), key=str)
    if not seeds:
        return [], [], np.zeros((0, 0))
    images = set.intersection(*(set(mine[s]) & set(theirs[s]) for s in seeds))
    images = sorted(images & {image} if image else images)
    d = np.array([[mine[s][i] - theirs[s][i] for s in seeds] for i in images], dtype=np.float64)
    return images, seeds, d.reshape(len(images), len(seeds))


def t_interval(x):
    """[lo, hi]: the 95% Student-t interval of the mean of x, or None for fewer than two values."""
    if len(x) < 2:
        return None
    sem = stats.sem(x)
    if sem == 0:
        return [float(np.mean(x))] * 2
    lo, hi = stats.t.interval(LEVEL, len(x) - 1, loc=np.mean(x), scale=sem)
    return [float(lo), float(hi)]


def signed_rank_p(x):
    """Two-sided Wilcoxon signed-rank p of x against zero (1.0 when every difference is zero)."""
    x = np.asarray(x, dtype=np.float64)
    return float(stats.wilcoxon(x).pvalue) if np.any(x != 0) else 1.0


def verdict(n, ci, p, sign=1):
    """"better" / "worse" where the interval and the rank test agree away from zero, else why not."""
    if n < MIN_IMAGES:
        return f"too few images ({n} < {MIN_IMAGES}) to conclude"
    if p < 1 - LEVEL and (ci[0] > 0 or ci[1] < 0):
        return "better" if (ci[0] > 0) == (sign > 0) else "worse"
    return "no clear difference"


def summary(per_image, sign=1, tie=0.0):
    """The numbers over images of per-image differences: mean, ci95, median, p, W / T / L, verdict."""
    x = np.asarray(per_image, dtype=np.float64)
    ci, p = t_interval(x), signed_rank_p(x)
    better = sign * x
    return {"n_images": len(x), "mean_delta": float(x.mean()), "ci95": ci, "median_delta": float(np.median(x)),
            "p_signed_rank": p, "wins": int((better > tie).sum()), "ties": int((abs(better) <= tie).sum()),
            "losses": int((better < -tie).sum()), "verdict": verdict(len(x), ci or [0, 0], p, sign)}


def compare(runs, base_runs, metric, tie, image=None):
    """summary() with "per_image", "per_seed" ({image: {seed: Δ}}), "seeds"; None if nothing is shared."""
    images, seeds, d = differences(runs, base_runs, metric, image)
    if not images:
        return None
    per_image = d.mean(axis=1)
    return {**summary(per_image, -1 if metric in LOWER_IS_BETTER else 1, tie),
            "per_image": {i: float(v) for i, v in zip(images, per_image)},
            "per_seed": {i: {str(s): float(v) for s, v in zip(seeds, row)} for i, row in zip(images, d)},
            "seeds": seeds}


def rank_correlation(x, y, resamples=9999):
    """{"rho": Spearman's rho, "p": its permutation p, level kept at any n}, or None for a constant x or y."""
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return None
    b = ry - ry.mean()

    def rho(a, axis=-1):
        a = a - a.mean(axis=axis, keepdims=True)
        return (a * b).sum(axis=axis) / np.sqrt((a * a).sum(axis=axis) * (b * b).sum())

    res = stats.permutation_test((rx,), rho, permutation_type="pairings", n_resamples=resamples, vectorized=True,
                                 random_state=0)  # `random_state`: scipy 1.10's name (requirements.txt)
    return {"rho": float(res.statistic), "p": float(res.pvalue)}

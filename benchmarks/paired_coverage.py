"""Measure what util/paired.py's numbers claim: over simulated sweeps with a known mean difference, how
often the 95% t-interval covers it (beside the percentile bootstrap over images then seeds that it
replaced), its median width, and how often the verdict says better/worse, the signed-rank p < 0.05,
and the Spearman permutation p (util/paired.rank_correlation) < 0.05 at no correlation.

    python benchmarks/paired_coverage.py [--sweeps 2000]

Per-image effects: normal, t(3) (heavy tails), lognormal (skewed) and "one outlier" (1 image in 16
gains +5 dB over a N(0, 0.4) rest, as DIV2K's image 11 did), each centred on a true mean of 0; seed
noise N(0, 0.3) dB per (image, seed). The signed-rank test's null is a median (symmetry) of zero, so
under the skewed effects its rate is its power against the median, not an error.
"""
import argparse
import os
import sys

import numpy as np
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from util import paired  # noqa: E402

SIZES = [(3, 1), (4, 2), (8, 1), (16, 3), (24, 5)]


def effects(kind, rng, shape):
    if kind == "normal":
        return rng.normal(0, 1, shape)
    if kind == "t3":
        return stats.t.rvs(3, size=shape, random_state=rng)
    if kind == "lognormal":
        return rng.lognormal(0, 1, shape) - np.exp(0.5)
    return rng.normal(0, 0.4, shape) + 5 * (rng.random(shape) < 1 / 16) - 5 / 16


def bootstrap(d, rng, resamples=2000):
    n, s = d.shape
    means = d[rng.integers(n, size=(resamples, n))[..., None], rng.integers(s, size=(resamples, n, s))].mean(axis=(1, 2))
    return np.percentile(means, [2.5, 97.5])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sweeps", type=int, default=2000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print("images x seeds | effects | t covers | t width | bootstrap covers | verdict said | signed-rank p<.05 | "
          "spearman p<.05")
    for n, s in SIZES:
        for kind in ("normal", "t3", "lognormal", "one outlier"):
            d = effects(kind, rng, (args.sweeps, n, 1)) + rng.normal(0, 0.3, (args.sweeps, n, s))
            got = [paired.summary(x.mean(axis=1)) for x in d]
            ci = np.array([c["ci95"] for c in got])
            boot = np.array([bootstrap(x, rng) for x in d[:300]])
            rho = [paired.rank_correlation(x.mean(axis=1), rng.normal(size=n))["p"] for x in d[:300]]
            print(f"{n} x {s} | {kind} | {np.mean((ci[:, 0] < 0) & (ci[:, 1] > 0)):.3f} | "
                  f"{np.median(ci[:, 1] - ci[:, 0]):.2f} | {np.mean((boot[:, 0] < 0) & (boot[:, 1] > 0)):.3f} | "
                  f"{np.mean([c['verdict'] in ('better', 'worse') for c in got]):.3f} | "
                  f"{np.mean([c['p_signed_rank'] < 0.05 for c in got]):.3f} | {np.mean(np.array(rho) < 0.05):.3f}")


if __name__ == "__main__":
    main()

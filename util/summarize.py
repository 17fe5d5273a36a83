"""Turn run folders back into Table 1.

    python -m util.summarize LOG_DIR [--epochs 500,1000,3000,5000] [--paper] [--ssim] [--lpips]

LOG_DIR is one experiment's folder (log/001_trans) or a whole log/ (one table per experiment).
One row per parameter set: the Attributes (std, skew, range of the transformed data) and PSNR /
SSIM at each epoch, averaged over images; SSIM is ssim_ref, the variant Table 1 reports (--ssim
adds the textbook SSIM, --lpips LPIPS); audio runs show PSNR, SNR and SI-SNR instead. Where a set
ran more than once the newest complete run counts and the table says so; unfinished or failed runs
are shown as such, never averaged in.
--paper puts the paper's number and the difference beside each cell.
"""
import json
import os
import sys

from util.cli import Parser

TABLE1_EPOCHS = ("500", "1000", "3000", "5000")
PAPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "paper_table1.json")


def load_runs(log_dir):
    """Every run folder under log_dir: {"experiment", "set", "folder", "results" or None, "mtime"}."""
    runs = []
    for dirpath, dirs, files in os.walk(log_dir):
        dirs.sort()
        if "args.json" not in files:
            continue
        dirs[:] = []  # a run folder's subfolders hold no runs
        try:
            with open(os.path.join(dirpath, "args.json")) as f:
                args = json.load(f)
        except (OSError, ValueError):
            continue
        if args.get("eval_ckpt"):  # a decoded checkpoint, not a fit
            continue
        results, mtime = None, os.path.getmtime(os.path.join(dirpath, "args.json"))
        res_path = os.path.join(dirpath, "results.json")
        if os.path.isfile(res_path):
            try:
                with open(res_path) as f:
                    results = json.load(f)
                mtime = os.path.getmtime(res_path)
            except (OSError, ValueError):
                results = None
        runs.append({"experiment": os.path.basename(os.path.dirname(dirpath)), "set": args.get("tag", "?"),
                     "folder": dirpath, "results": results, "mtime": mtime})
    return runs


def sweep_of(runs):
    """The experiment id and parameter-set order that run.py recorded in the experiment folder's
    sweep.json, or (None, ()) for runs made without run.py."""
    path = os.path.join(os.path.dirname(runs[0]["folder"]), "sweep.json")
    try:
        with open(path) as f:
            sweep = json.load(f)
        return sweep.get("experiment"), tuple(t["name"] for t in sweep.get("tasks", []))
    except (OSError, ValueError, KeyError, TypeError):
        return None, ()


def _order(sets, known):
    """The sweep's order, else Table 1's row order, then any other set alphabetically."""
    if not known:
        with open(PAPER) as f:
            known = tuple(json.load(f)["rows"])
    return [s for s in known if s in sets] + sorted(s for s in sets if s not in known)


def pick(runs):
    """Per parameter set: the newest complete run, else the newest run, and how many there were."""
    by_set = {}
    for r in runs:
        by_set.setdefault(r["set"], []).append(r)
    chosen = {}
    for s, rs in by_set.items():
        rs.sort(key=lambda r: r["mtime"], reverse=True)
        complete = [r for r in rs if r["results"] and r["results"].get("complete")]
        chosen[s] = (complete[0] if complete else rs[0], len(rs), len(complete))
    return chosen


def _status(run, n, n_complete):
    res = run["results"]
    if res is None:
        return "failed (no results)"
    if not res.get("complete"):
        done = len(res.get("samples", {}))
        return f"incomplete ({done} sample(s) begun, last epoch {max(map(int, res.get('mean') or {'0': 0}))})"
    return "ok" if n == 1 else f"ok (newest complete of {n} runs)"


def _cell(v, paper=None, digits=2):
    if v is None:
        return "n/a"
    s = f"{v:.{digits}f}"
    if paper is not None:
        s += f" [{paper:.{digits}f}, {v - paper:+.{digits}f}]"
    return s


def table(experiment, runs, epochs, show_paper, ssim, lpips):
    chosen = pick(runs)
    swept_id, order = sweep_of(runs)
    exp_id = swept_id or experiment.split("_")[0]
    # Table 1 is DIV2K with SIREN: beside other experiments run.py ran (Kodak, text, audio ...) it would
    # mislead; runs made by hand are compared on request.
    comparable = show_paper and (exp_id == "001" or swept_id is None)
    paper = {}
    if comparable:
        with open(PAPER) as f:
            paper = json.load(f)["rows"]
    avail = sorted({e for r, _, _ in chosen.values() if r["results"] for e in r["results"].get("mean", {})}, key=int)
    if epochs is None:
        epochs = [e for e in TABLE1_EPOCHS if e in avail] or avail
    audio = any("si_snr" in m for r, _, _ in chosen.values() if r["results"] for m in r["results"]["mean"].values())
    # (key, label, digits) per epoch: Table 1's PSNR / SSIM, or PSNR / SNR / SI-SNR for audio
    metrics = [("psnr", "PSNR", 2)] + ([("snr", "SNR", 2), ("si_snr", "SI-SNR", 2)] if audio else
                                       [("ssim_ref", "SSIM", 4)] + ([("ssim", "SSIM (textbook)", 4)] if ssim else []) +
                                       ([("lpips", "LPIPS", 4)] if lpips else []))
    head = ["Trans.", "STD", "Skew", "Range"]
    for e in epochs:
        label = f"{int(e) / 1000:g}k" if int(e) >= 500 and int(e) % 500 == 0 else e
        head += [f"{label} {name}" for _, name, _ in metrics]
    head.append("Runs")
    lines = [f"## {experiment}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in _order(chosen, order):
        run, n, n_complete = chosen[s]
        res, ref = run["results"], paper.get(s, {})
        row = [s]
        ok = res is not None and res.get("complete")
        attrs = (res or {}).get("attributes") or {}
        for k, digits in (("std", 2), ("skew", 2), ("range", 2)):
            row.append(_cell(attrs.get(k), ref.get(k), digits) if ok else "-")
        for e in epochs:
            m = (res or {}).get("mean", {}).get(e) if ok else None
            pe = ref.get(e, {})
            row += [_cell(m.get(key), pe.get(key), digits) if m else "-" for key, _, digits in metrics]
        row.append(_status(run, n, n_complete))
        lines.append("| " + " | ".join(row) + " |")
    if comparable:
        lines += ["", "Cells read `ours [paper, ours - paper]`; the paper's numbers are Table 1 (DIV2K, 5000 epochs)."]
    elif show_paper:
        lines += ["", f"No paper numbers beside experiment {exp_id}: Table 1 is experiment 001 (DIV2K, SIREN)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = Parser(prog="python -m util.summarize", description=__doc__.split("\n\n")[0])
    ap.add_argument("log_dir")
    ap.add_argument("--epochs", default=None, help="comma-separated epochs (default: Table 1's that were logged)")
    ap.add_argument("--paper", action="store_true", help="add the paper's Table 1 numbers and the differences")
    ap.add_argument("--ssim", action="store_true", help="also the textbook SSIM")
    ap.add_argument("--lpips", action="store_true", help="also LPIPS")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.log_dir):
        print(f"error: {args.log_dir}: no such folder", file=sys.stderr)
        return 2
    runs = load_runs(args.log_dir)
    if not runs:
        print(f"error: {args.log_dir}: no run folders (args.json) found", file=sys.stderr)
        return 2
    epochs = [e.strip() for e in args.epochs.split(",")] if args.epochs else None
    groups = {}
    for r in runs:
        groups.setdefault(r["experiment"], []).append(r)
    for exp in sorted(groups):
        print(table(exp, groups[exp], epochs, args.paper, args.ssim, args.lpips))
    return 0


if __name__ == "__main__":
    sys.exit(main())

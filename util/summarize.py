"""Turn run folders back into Table 1, with error bars over seeds, and into curves.

    python -m util.summarize LOG_DIR [--epochs 500,1000,3000,5000] [--paper] [--ssim] [--lpips]
                                     [--data DIR] [--plot curves.png]

LOG_DIR is one experiment's folder (log/001_trans), a whole log/ (one table per experiment), the
authors' released runs (log/authors/001_trans) or what `main.py --eval_ckpt` decoded from them.
One row per parameter set and source (this project's runs, the published code's logs, decoded
checkpoints): the Attributes (std, skew, range of the transformed data) and PSNR / SSIM at each
epoch, averaged over images; SSIM is ssim_ref, the variant Table 1 reports (--ssim adds the textbook
SSIM, --lpips LPIPS); audio runs show PSNR, SNR and SI-SNR instead. Where a set ran with several
seeds (run.py --seeds), a cell is the mean over seeds of the image-averaged value +- the standard
deviation over seeds; where a set ran more than once with one seed the newest complete run counts.
Unfinished or failed runs are shown as such, never averaged in.
--paper puts the paper's number and the difference (of the mean) beside each cell. --data DIR gives
the published logs' rows their Attributes, computed from the images they were fitted on. --plot
draws PSNR against epoch, one line per row (Table 1's labels), a band of +- one standard deviation
over seeds.
"""
import json
import math
import os
import sys

from util.cli import Parser
from util.errors import InputError, UserError, os_error_line
from util.records import EPOCH, check_options, md_cell, read_sweep
from util.runs import SOURCES, load_runs

TABLE1_EPOCHS = ("500", "1000", "3000", "5000")
# --data applies a published run's transform options to images: each must be of its type
TRANSFORM_OPTION_KINDS = {"transform": ("str", False, None), "inverse": ("bool", False, None),
                          "rpp": ("bool", False, None), **{k: ("float", False, None) for k in (
                              "trans_shift", "trans_scale", "pn_cum", "pn_buffer", "pn_alpha", "pn_k", "pn_beta",
                              "gamma_boundary", "gamma_trans", "box_shift")}}
PAPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "paper_table1.json")


def sweep_of(runs):
    """The experiment id and parameter-set order that run.py recorded in the experiment folder's
    sweep.json, or (None, ()) for runs made without run.py."""
    try:
        sweep = read_sweep(os.path.dirname(runs[0]["folder"]))
    except InputError:  # a sweep.json that cannot be read orders nothing
        return None, ()
    if sweep is None:
        return None, ()
    return sweep.experiment, tuple(dict.fromkeys(t.set for t in sweep.tasks))  # one task per set and seed


def _order(sets, known):
    """The sweep's order, else Table 1's row order, then any other set alphabetically."""
    if not known:
        with open(PAPER) as f:
            known = tuple(json.load(f)["rows"])
    return [s for s in known if s in sets] + sorted(s for s in sets if s not in known)


def complete(run):
    return bool(run["results"] and run["results"].get("complete"))


def pick(runs):
    """Rows of the table, keyed (set, source): per seed the newest complete run ("runs"), the newest
    run of each seed that has no complete one ("unfinished"), and how many runs there were ("n")."""
    grouped = {}
    for r in runs:
        grouped.setdefault((r["set"], r["source"]), {}).setdefault(r["seed"], []).append(r)
    rows = {}
    for key, by_seed in grouped.items():
        chosen, unfinished = [], []
        for _, rs in sorted(by_seed.items(), key=lambda kv: str(kv[0])):
            rs.sort(key=lambda r: r["mtime"], reverse=True)
            done = [r for r in rs if complete(r)]
            (chosen if done else unfinished).append(done[0] if done else rs[0])
        rows[key] = {"runs": chosen, "unfinished": unfinished, "n": sum(len(rs) for rs in by_seed.values())}
    return rows


def _unfinished(run):
    res = run["results"]
    if run.get("problem"):
        return f"unreadable ({run['problem']})"
    if res is None:
        return "failed (no results)"
    if res.get("failed"):
        return f"failed ({res.get('error', 'no reason given')})"
    done = len(res.get("samples", {}))
    return f"incomplete ({done} sample(s) begun, last epoch {max(map(int, res.get('mean') or {'0': 0}))})"


def _status(row):
    runs, unfinished, n = row["runs"], row["unfinished"], row["n"]
    if not runs:
        return _unfinished(unfinished[0])
    s = "ok" if len(runs) == 1 else f"ok, {len(runs)} seeds ({', '.join(str(r['seed']) for r in runs)})"
    if n > len(runs) + len(unfinished):
        s += f" (newest complete of {n} runs)" if len(runs) == 1 else f" ({n} runs in all)"
    if unfinished:
        s += f"; seed {', '.join(str(r['seed']) for r in unfinished)}: {_unfinished(unfinished[0])}"
    return s


def seed_stats(values):
    """Mean and standard deviation (n - 1) over seeds of the finite values: (mean, std or None, n)."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return None, None, 0
    m = sum(v) / len(v)
    sd = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else None
    return m, sd, len(v)


def _cell(values, paper=None, digits=2):
    m, sd, _ = seed_stats(values)
    if m is None:
        return "n/a"
    s = f"{m:.{digits}f}" + (f" ± {sd:.{digits}f}" if sd is not None else "")
    if paper is not None:
        s += f" [{paper:.{digits}f}, {m - paper:+.{digits}f}]"
    return s


def ordered(rows, known):
    """Row keys in the sweep's order, else Table 1's, then other sets alphabetically; sources in SOURCES' order."""
    order = _order({s for s, _ in rows}, known)
    return sorted(rows, key=lambda k: (order.index(k[0]), list(SOURCES).index(k[1])))


def table(experiment, runs, epochs, show_paper, ssim, lpips, data_attrs=None):
    """One experiment's Table 1 as markdown. data_attrs: {(set, source): attributes} for rows whose
    runs store none (the published code's logs), computed from --data."""
    rows = pick(runs)
    swept_id, order = sweep_of(runs)
    exp_id = swept_id or experiment.split("_")[0]
    # Table 1 is DIV2K with SIREN: beside other experiments run.py ran (Kodak, text, audio ...) it would
    # mislead; runs made by hand are compared on request.
    comparable = show_paper and (exp_id == "001" or swept_id is None)
    paper = {}
    if comparable:
        with open(PAPER) as f:
            paper = json.load(f)["rows"]
    chosen = [r for row in rows.values() for r in row["runs"]]
    avail = sorted({e for r in chosen for e in r["results"].get("mean", {})}, key=int)
    if epochs is None:
        epochs = [e for e in TABLE1_EPOCHS if e in avail] or avail
    audio = any("si_snr" in m for r in chosen for m in r["results"]["mean"].values())
    # (key, label, digits) per epoch: Table 1's PSNR / SSIM, or PSNR / SNR / SI-SNR for audio
    metrics = [("psnr", "PSNR", 2)] + ([("snr", "SNR", 2), ("si_snr", "SI-SNR", 2)] if audio else
                                       [("ssim_ref", "SSIM", 4)] + ([("ssim", "SSIM (textbook)", 4)] if ssim else []) +
                                       ([("lpips", "LPIPS", 4)] if lpips else []))
    head = ["Trans.", "STD", "Skew", "Range"]
    for e in epochs:
        label = f"{int(e) / 1000:g}k" if int(e) >= 500 and int(e) % 500 == 0 else e
        head += [f"{label} {name}" for _, name, _ in metrics]
    head += ["Source", "Runs"]
    lines = [f"## {md_cell(experiment)}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in ordered(rows, order):
        s, source = key
        row, ref = rows[key], paper.get(s, {})
        done = row["runs"]
        attrs = [r["results"].get("attributes") or (data_attrs or {}).get(key) or {} for r in done]
        cells = [s]
        for k, digits in (("std", 2), ("skew", 2), ("range", 2)):  # the data's, the same for every seed
            have = [a.get(k) for a in attrs if a.get(k) is not None]
            cells.append(_cell(have[:1], ref.get(k), digits) if have else "-")
        for e in epochs:
            means = [r["results"].get("mean", {}).get(e) for r in done]
            pe = ref.get(e, {})
            cells += [_cell([m.get(k) for m in means], pe.get(k), digits) if done and all(means) else "-"
                      for k, _, digits in metrics]
        cells += [SOURCES[source][0], _status(row)]
        cells[0] = md_cell(s)  # names and messages are data: escaped, never markup
        cells[-1] = md_cell(cells[-1])
        lines.append("| " + " | ".join(cells) + " |")
    sources = {source for _, source in rows}
    if len(sources) > 1 or sources != {"ours"}:
        lines += ["", "Source: " + "; ".join(f"{SOURCES[x][0]}: each epoch measured {SOURCES[x][1]}" for x in SOURCES
                                             if x in sources) + "."]
    if any(len(row["runs"]) > 1 for row in rows.values()):
        lines += ["", "`m ± s`: mean over seeds of the image-averaged value ± its standard deviation over seeds (n - 1)."]
    if comparable:
        lines += ["", "Cells read `ours [paper, ours - paper]`; the paper's numbers are Table 1 (DIV2K, 5000 epochs)."]
    elif show_paper:
        lines += ["", f"No paper numbers beside experiment {exp_id}: Table 1 is experiment 001 (DIV2K, SIREN)."]
    return "\n".join(lines) + "\n"


def curves(runs):
    """Per row (label, epochs, mean PSNR over seeds, std over seeds or None) from every logged epoch of
    each seed's run, averaged over images; epochs every seed logged. Labels are Table 1's ("sym-power")
    where the set is one of its rows."""
    rows = pick(runs)
    _, order = sweep_of(runs)
    several_sources = len({source for _, source in rows}) > 1
    with open(PAPER) as f:
        labels = json.load(f)["labels"]
    out = []
    for key in ordered(rows, order):
        done = rows[key]["runs"]
        if not done:
            continue
        common = set.intersection(*({e for e, m in r["results"]["mean"].items() if m.get("psnr") is not None}
                                    for r in done))
        epochs = sorted(common, key=int)
        stats = [seed_stats([r["results"]["mean"][e]["psnr"] for r in done]) for e in epochs]
        label = labels.get(key[0], key[0]) + (f" ({SOURCES[key[1]][0]})" if several_sources else "") + \
            (f", {len(done)} seeds" if len(done) > 1 else "")
        out.append((label, [int(e) for e in epochs], [m for m, _, _ in stats],
                    [sd for _, sd, _ in stats] if len(done) > 1 else None))
    return out


def data_attributes(runs, data_dir):
    """{(set, source): attributes} for the rows whose runs store no Attributes (the published code's
    logs): the images the run names, read from data_dir and transformed with the run's own options."""
    from components.transform import attributes_of_images  # --data only (see tests/test_layers.py)
    from util.io import IMAGE_EXTS, list_samples, sample_name

    files = {sample_name(f): f for f in list_samples(data_dir, IMAGE_EXTS)}
    out = {}
    for r in runs:
        key = (r["set"], r["source"])
        if key in out or not complete(r) or r["results"].get("attributes"):
            continue
        names = list(r["results"]["samples"])
        missing = [n for n in names if n not in files]
        if missing:
            print(f"note: {data_dir}: no image named {', '.join(missing[:3])} (run {r['folder']}); "
                  f"its Attributes are left out", file=sys.stderr)
            continue
        try:
            check_options(dict(r["args"]), TRANSFORM_OPTION_KINDS, os.path.join(r["folder"], "args.json"))
            out[key] = attributes_of_images([files[n] for n in names], r["args"])
        except KeyError as e:
            print(f"note: {r['folder']}: args.json lacks option {e}; its Attributes are left out", file=sys.stderr)
        except UserError as e:
            print(f"note: {e}; its Attributes are left out", file=sys.stderr)
    return out


def main(argv=None):
    ap = Parser(prog="python -m util.summarize", description=__doc__.split("\n\n")[0])
    ap.add_argument("log_dir")
    ap.add_argument("--epochs", default=None, help="comma-separated epochs (default: Table 1's that were logged)")
    ap.add_argument("--paper", action="store_true", help="add the paper's Table 1 numbers and the differences")
    ap.add_argument("--ssim", action="store_true", help="also the textbook SSIM")
    ap.add_argument("--lpips", action="store_true", help="also LPIPS")
    ap.add_argument("--data", default=None, metavar="DIR",
                    help="the images the published code's runs were fitted on, for their Attributes")
    ap.add_argument("--plot", default=None, metavar="OUT.png", help="PSNR against epoch, one line per row")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.log_dir):
        print(f"error: {args.log_dir}: no such folder", file=sys.stderr)
        return 2
    if args.data and not os.path.isdir(args.data):
        print(f"error: --data {args.data}: no such folder", file=sys.stderr)
        return 2
    epochs = [e.strip() for e in args.epochs.split(",")] if args.epochs else None
    if epochs is not None and not all(EPOCH.fullmatch(e) for e in epochs):
        print(f"error: --epochs {args.epochs}: expected comma-separated epochs, e.g. 500,1000", file=sys.stderr)
        return 2
    skipped = []
    runs = load_runs(args.log_dir, skipped)
    if not runs:
        print(f"error: {args.log_dir}: no run folders (args.json) found"
              + (f"; {len(skipped)} unreadable, e.g. {skipped[0]}" if skipped else ""), file=sys.stderr)
        return 2
    for reason in skipped:
        print(f"note: left out: {reason}", file=sys.stderr)
    groups = {}
    for r in runs:
        groups.setdefault(r["experiment"], []).append(r)
    try:
        for exp in sorted(groups):
            attrs = data_attributes(groups[exp], args.data) if args.data else None
            print(table(exp, groups[exp], epochs, args.paper, args.ssim, args.lpips, attrs))
        if args.plot:
            from util.plot import plot_curves

            panels = [(exp, curves(groups[exp])) for exp in sorted(groups)]
            plot_curves([(t, c) for t, c in panels if c], args.plot)
            print(f"plot: {args.plot}", file=sys.stderr)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(os_error_line(e), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

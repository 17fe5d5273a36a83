"""Turn run folders back into Table 1, with error bars over seeds, and into curves.

    python summarize.py LOG_DIR [--epochs 500,1000,3000,5000] [--paper] [--ssim] [--lpips]
                              [--data DIR] [--plot curves.png [--metric psnr]]

LOG_DIR is one experiment's folder (log/001_trans), a whole log/ (one table per experiment), the
authors' released runs (log/authors/001_trans) or what `main.py --eval_ckpt` decoded from them.
One row per parameter set and source (this project's runs, the published code's logs, decoded
checkpoints): the Attributes (std, skew, range of the transformed data) and PSNR / SSIM at each
epoch, averaged over images; SSIM is ssim_ref, the variant Table 1 reports (--ssim adds the textbook
SSIM, --lpips LPIPS); audio runs show PSNR, SNR and SI-SNR instead. Where a set ran with several
seeds (run.py --seeds), a cell is the mean over seeds of the image-averaged value +- the standard
deviation over seeds; where a set ran more than once with one seed the newest complete run counts.
Unfinished or failed runs are shown as such, never averaged in.
--paper puts the paper's number and the difference (of the mean) beside each cell of the rows whose
runs have Table 1's setting (TABLE1_SETTING below); a line under the table says why the others have
none. --data DIR gives
the published logs' rows their Attributes, computed from the images they were fitted on. --plot
draws PSNR (or --metric) against epoch, one line per row (the table's names), a band of +- one
standard deviation over seeds.
"""
import json
import math
import os
import sys

from opt import group_options, option_kinds
from util.cli import Parser
from util.errors import EXIT_USAGE, InputError, UserError, exit_code_for
from util.records import EPOCH, check_options, md_cell, read_sweep
from util.runs import SOURCES, load_runs

TABLE1_EPOCHS = ("500", "1000", "3000", "5000")
PAPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "util", "paper_table1.json")

# Table 1's setting (protocol.md): a run's cells sit beside the paper's only with all of it, and with
# its row's transform options. The learning-rate schedule depends on num_epochs, so another length's
# epoch 500 is not Table 1's. unset (None) lr and first_omega mean SIREN's image defaults, 1e-4 and 30.
TABLE1_SETTING = {"signal_type": "image", "model_type": "siren", "hidden_layers": 3, "hidden_features": 256,
                  "lr": 1e-4, "first_omega": 30, "hidden_omega": 30, "num_epochs": 5000}
TABLE1_IMAGES = [f"{i:02d}" for i in range(16)]  # DIV2K's test images, fitted at their 512 x 512
TABLE1_SHAPE = [3, 512, 512]
TRANSFORM_OPTIONS = tuple(group_options("transform"))  # main.py's transform options (opt.py)
# --data applies a published run's transform options to images: each must be of its type
TRANSFORM_OPTION_KINDS = {k: v for k, v in option_kinds().items() if k in TRANSFORM_OPTIONS}


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


def table1_mismatch(run, row):
    """Why a run is not in Table 1's setting for `row` (the first requirement it fails), or None.
    Its data: args.json's input_path names DIV2K, results' samples are the 16 test images and, where
    the run records them (this project's results.json), their shapes are 512 x 512; the published
    code's logs record no size (their input is the authors' DIV2K test folder, fitted as it is)."""
    from opt import row_options

    args, res = run["args"], run["results"]
    for k, want in TABLE1_SETTING.items():
        if k not in args:
            return f"args.json lacks {k}"
        have = args[k]
        if have is None and k in ("lr", "first_omega"):
            have = want if args.get("model_type") == "siren" and args.get("signal_type") == "image" else None
        if have != want:
            return f"{k} {have}, not {want}"
    path = args.get("input_path")
    if "div2k" not in str(path).lower():
        return f"input {path}, not DIV2K's test images"
    names = sorted(res.get("samples", {}))
    if names != TABLE1_IMAGES:
        shown = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
        return f"{len(names)} image(s) ({shown}), not DIV2K's 16 test images"
    for name, shape in sorted((res.get("sample_shapes") or {}).items()):
        if list(shape) != TABLE1_SHAPE:
            return f"image {name} is {'x'.join(map(str, shape))}, not {'x'.join(map(str, TABLE1_SHAPE))}"
    want = row_options(row)
    for k in TRANSFORM_OPTIONS:
        if args.get(k) != want[k]:
            return f"{k} {args.get(k)}, not {row}'s {want[k]}"
    return None


def ordered(rows, known):
    """Row keys in the sweep's order, else Table 1's, then other sets alphabetically; sources in SOURCES' order."""
    order = _order({s for s, _ in rows}, known)
    return sorted(rows, key=lambda k: (order.index(k[0]), list(SOURCES).index(k[1])))


def table(experiment, runs, epochs, show_paper, ssim, lpips, data_attrs=None):
    """One experiment's Table 1 as markdown. data_attrs: {(set, source): attributes} for rows whose
    runs store none (the published code's logs), computed from --data."""
    rows = pick(runs)
    _, order = sweep_of(runs)
    paper, why_not = {}, {}  # why_not: row key -> why its runs are not Table 1's setting
    if show_paper:
        with open(PAPER) as f:
            table1 = json.load(f)["rows"]
        for key, row in rows.items():
            reasons = ["not a Table 1 row"] if key[0] not in table1 else \
                [m for m in (table1_mismatch(r, key[0]) for r in row["runs"]) if m]
            if reasons:
                why_not[key] = reasons[0]
            elif row["runs"]:
                paper[key] = table1[key[0]]
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
        row, ref = rows[key], paper.get(key, {})
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
    if paper:
        unsized = [k for k in paper if not all(r["results"].get("sample_shapes") for r in rows[k]["runs"])]
        lines += ["", "Cells read `ours [paper, ours - paper]`; the paper's numbers are Table 1 (DIV2K, SIREN 3x256, "
                      "5000 epochs)" + (f"; image size not recorded by {_labels(unsized, sources)}: taken as 512x512"
                                        if unsized else "") + "."]
    if why_not:
        by_reason = {}
        for key in ordered(why_not, order):
            by_reason.setdefault(why_not[key], []).append(key)
        lines += ["", "No paper numbers beside " + "; ".join(f"{_labels(keys, sources)}: {reason}"
                                                              for reason, keys in by_reason.items()) + "."]
    return "\n".join(lines) + "\n"


def _labels(keys, sources):
    """Row names for a footnote; with the source where the table has several."""
    return ", ".join(s + (f" ({SOURCES[src][0]})" if len(sources) > 1 else "") for s, src in keys)


METRICS = {  # --metric: the axis label of each metric the runs record
    "psnr": "PSNR (dB)", "ssim_ref": "SSIM (Table 1's variant)", "ssim": "SSIM (textbook)", "lpips": "LPIPS",
    "snr": "SNR (dB)", "si_snr": "SI-SNR (dB)", "mse": "MSE in the transform's own domain"}


def curves(runs, metric="psnr"):
    """Per row (label, epochs, mean over seeds, std over seeds or None) of `metric` from every logged
    epoch of each seed's run, averaged over images; epochs every seed logged. Labels are the table's
    row names (the parameter set, and the source where there are several)."""
    rows = pick(runs)
    _, order = sweep_of(runs)
    several_sources = len({source for _, source in rows}) > 1
    out = []
    for key in ordered(rows, order):
        done = rows[key]["runs"]
        if not done:
            continue
        common = set.intersection(*({e for e, m in r["results"]["mean"].items() if m.get(metric) is not None}
                                    for r in done))
        epochs = sorted(common, key=int)
        if not epochs:
            continue
        stats = [seed_stats([r["results"]["mean"][e][metric] for r in done]) for e in epochs]
        label = key[0] + (f" ({SOURCES[key[1]][0]})" if several_sources else "") + \
            (f", {len(done)} seeds" if len(done) > 1 else "")
        out.append((label, [int(e) for e in epochs], [m for m, _, _ in stats],
                    [sd for _, sd, _ in stats] if len(done) > 1 else None))
    return out


def _one_or_all(values):
    values = list(dict.fromkeys(str(v) for v in values if v is not None))
    return "/".join(values) if values else "?"


def _image_size(path):
    """"HxW" of the first image a run's --input_path names, or None (not an image, or gone)."""
    from PIL import Image

    from util.io import IMAGE_EXTS, list_samples

    try:
        with Image.open(list_samples(path, IMAGE_EXTS)[0]) as im:
            return f"{im.size[1]}x{im.size[0]}"
    except (UserError, OSError, IndexError, ValueError):
        return None


def curves_title(experiment, runs):
    """What a panel of curves was fitted on: data, number of images, size, backbone and epochs (what
    the runs' args.json and results.json say; a part they do not say is left out)."""
    done = [r for row in pick(runs).values() for r in row["runs"]]
    args = [r["args"] for r in done]
    paths = [a["input_path"] for a in args if a.get("input_path")]
    n = _one_or_all(len(r["results"]["samples"]) for r in done if r["results"].get("samples"))
    sizes = [_image_size(a["input_path"]) for a in args
             if a.get("input_path") and a.get("signal_type", "image") == "image"]
    parts = [_one_or_all(os.path.join(*os.path.normpath(p).split(os.sep)[-2:]) for p in paths),
             f"{n} images" + (f" {_one_or_all(sizes)}" if any(sizes) else "") if n != "?" else "?",
             _one_or_all(f"{a['model_type']} {a.get('hidden_layers')}x{a.get('hidden_features')}" for a in args
                         if a.get("model_type")),
             f"{_one_or_all(a.get('num_epochs') for a in args)} epochs"]
    return f"{experiment}: " + ", ".join(p for p in parts if not p.startswith("?"))


def data_attributes(runs, data_dir):
    """{(set, source): attributes} for the rows whose runs store no Attributes (the published code's
    logs): the images the run names, read from data_dir and transformed with the run's own options."""
    from components.transform import TransformError, attributes_of_images  # --data only (tests/test_layers.py)
    from util.io import IMAGE_EXTS, list_samples, read_image, sample_name

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
            out[key] = attributes_of_images((read_image(files[n]) for n in names), r["args"])
        except KeyError as e:
            print(f"note: {r['folder']}: args.json lacks option {e}; its Attributes are left out", file=sys.stderr)
        except (UserError, TransformError) as e:
            print(f"note: {r['folder']}: {e}; its Attributes are left out", file=sys.stderr)
    return out


def main(argv=None):
    ap = Parser(prog="python summarize.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("log_dir")
    ap.add_argument("--epochs", default=None, help="comma-separated epochs (default: Table 1's that were logged)")
    ap.add_argument("--paper", action="store_true",
                    help="add the paper's Table 1 numbers and the differences (rows run in Table 1's setting)")
    ap.add_argument("--ssim", action="store_true", help="also the textbook SSIM")
    ap.add_argument("--lpips", action="store_true", help="also LPIPS")
    ap.add_argument("--data", default=None, metavar="DIR",
                    help="the images the published code's runs were fitted on, for their Attributes")
    ap.add_argument("--plot", default=None, metavar="OUT.png", help="--metric against epoch, one line per row")
    ap.add_argument("--metric", default="psnr", choices=list(METRICS), help="what --plot draws (default psnr)")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.log_dir):
        print(f"error: {args.log_dir}: no such folder", file=sys.stderr)
        return EXIT_USAGE
    if args.data and not os.path.isdir(args.data):
        print(f"error: --data {args.data}: no such folder", file=sys.stderr)
        return EXIT_USAGE
    epochs = [e.strip() for e in args.epochs.split(",")] if args.epochs else None
    if epochs is not None and not all(EPOCH.fullmatch(e) for e in epochs):
        print(f"error: --epochs {args.epochs}: expected comma-separated epochs, e.g. 500,1000", file=sys.stderr)
        return EXIT_USAGE
    skipped = []
    runs = load_runs(args.log_dir, skipped)
    if not runs:
        print(f"error: {args.log_dir}: no run folders (args.json) found"
              + (f"; {len(skipped)} unreadable, e.g. {skipped[0]}" if skipped else ""), file=sys.stderr)
        return EXIT_USAGE
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

            panels = [(curves_title(exp, groups[exp]), curves(groups[exp], args.metric)) for exp in sorted(groups)]
            panels = [(t, c) for t, c in panels if c]
            if not panels:
                raise UserError(f"--metric {args.metric}: no finished run of {args.log_dir} recorded it")
            plot_curves(panels, args.plot, f"{METRICS[args.metric]}, mean over images")
            print(f"plot: {args.plot}", file=sys.stderr)
    except (UserError, OSError) as e:
        return exit_code_for(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())

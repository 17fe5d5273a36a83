"""Turn run folders back into Table 1, with error bars over seeds, and into curves.

    python summarize.py LOG_DIR [--epochs 500,1000,3000,5000] [--paper] [--ssim] [--lpips]
                              [--data DIR] [--plot curves.png [--metric psnr]] [--image 01]
                              [--baseline scale_1.0 [--tie 0.05] [--json OUT.json] [--why why.png]]
    python summarize.py LOG_DIR LOG_DIR ... --baseline scale_1.0   (one experiment on several image sets)

LOG_DIR: an experiment's folder, a whole log/, the authors' released runs or their decoded checkpoints.
One row per parameter set, source and protocol (util/protocol.py); a cell is the mean over seeds +- their
standard deviation; unfinished or failed runs are shown as such, never averaged in. --baseline ROW adds
the paired comparison (util/paired.py). docs/views.md has the rest.
"""
import glob
import json
import math
import os
import sys

from opt import check_kinds, group_options
from util.cli import Parser
from util.errors import InputError, OptionError, UserError, exit_code_for
from util.lock import writer
from util.readers import EPOCH, md_cell, read_checkpoint, read_sweep
from util import heap, paired, protocol, threads
from util.folders import SOURCES, load_runs

TABLE1_EPOCHS = ("500", "1000", "3000", "5000")
PAPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "util", "paper_table1.json")

# Table 1's setting (protocol.md): a run's cells sit beside the paper's only with all of it and its row's
# transform options. The lr schedule decays over num_epochs, so another length's epoch 500 is not Table 1's;
# a run folder without lr_schedule or loss ran the published ones (util/protocol.py's PAST). Unset (None)
# lr and first_omega mean SIREN's image defaults, 1e-4 and 30.
TABLE1_SETTING = {"signal_type": "image", "model_type": "siren", "hidden_layers": 3, "hidden_features": 256,
                  "lr": 1e-4, "first_omega": 30, "hidden_omega": 30, "num_epochs": 5000, **protocol.PAST}
TABLE1_IMAGES = [f"{i:02d}" for i in range(16)]  # DIV2K's test images, fitted at their 512 x 512
TABLE1_SHAPE = [3, 512, 512]
TRANSFORM_OPTIONS = tuple(group_options("transform"))  # main.py's transform options (opt.py)


def complete(run):
    return bool(run["results"] and run["results"].get("complete"))


def key_of(run):
    """A run's row: (parameter set, source, protocol). Runs of two protocols never share a row."""
    return run["set"], run["source"], protocol.of(run["args"])


def pick(runs):
    """{key_of: per seed the newest complete run ("runs") or else newest run ("unfinished"), "n" runs}."""
    grouped = {}
    for r in runs:
        grouped.setdefault(key_of(r), {}).setdefault(r["seed"], []).append(r)
    rows = {}
    for key, by_seed in grouped.items():
        chosen, unfinished = [], []
        for _, rs in sorted(by_seed.items(), key=lambda kv: str(kv[0])):
            rs.sort(key=lambda r: r["mtime"], reverse=True)
            done = [r for r in rs if complete(r)]
            (chosen if done else unfinished).append(done[0] if done else rs[0])
        rows[key] = {"runs": chosen, "unfinished": unfinished, "n": sum(len(rs) for rs in by_seed.values())}
    return rows


def table_rows(runs):
    """pick()'s rows; their names: the set, its protocol in brackets where it ran several (the bracketed
    fields), the source where the table has several; their keys in the sweep's order, else Table 1's."""
    rows = pick(runs)
    fields = protocol.bracketed({s: [k[2] for k in rows if k[0] == s] for s, _, _ in rows})
    several = len({k[1] for k in rows}) > 1
    names = {k: k[0] + protocol.label(k[2], fields) + (f" ({SOURCES[k[1]][0]})" if several else "") for k in rows}
    try:
        sweep = read_sweep(os.path.dirname(runs[0]["folder"]))
    except InputError:  # a sweep.json that cannot be read orders nothing
        sweep = None
    known = tuple(dict.fromkeys(t.set for t in sweep.tasks)) if sweep is not None else ()  # a task per set and seed
    if not known:
        with open(PAPER) as f:
            known = tuple(json.load(f)["rows"])
    order = sorted(rows, key=lambda k: (known.index(k[0]) if k[0] in known else len(known), k[0],
                                        list(SOURCES).index(k[1]), k[2]))
    return rows, names, order, fields


def _unfinished(run):
    res = run["results"]
    if run.get("problem"):
        return f"unreadable ({run['problem']})"
    if writer(run["folder"]):
        return "running"
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
    """Mean and standard deviation (n - 1) over seeds of the finite values: (mean, std or None)."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return None, None
    m = sum(v) / len(v)
    return m, math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1)) if len(v) > 1 else None


def _cell(values, paper=None, digits=2):
    m, sd = seed_stats(values)
    if m is None:
        return "n/a"
    s = f"{m:.{digits}f}" + (f" ± {sd:.{digits}f}" if sd is not None else "")
    if paper is not None:
        s += f" [{paper:.{digits}f}, {m - paper:+.{digits}f}]"
    return s


def table1_mismatch(run, row):
    """The first requirement of Table 1's setting for `row` a run fails, or None (published logs record no size)."""
    from opt import row_options

    args, res = run["args"], run["results"]
    for k, want in TABLE1_SETTING.items():
        if k not in args and k not in protocol.PAST:
            return f"args.json lacks {k}"
        have = args.get(k, protocol.PAST.get(k))
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


def paper_numbers(rows, image=None):
    """({row key: the paper's numbers}, {row key: why it has none}): Table 1's row, or with `image`
    Figure 1's fit of that image, for the rows whose every run is in Table 1's setting."""
    with open(PAPER) as f:
        published = json.load(f)
    table1, fig1 = published["rows"], published["figure1"]
    paper, why_not = {}, {}
    for key, row in rows.items():
        s = key[0]
        if image is not None and image != fig1["image"]:
            why_not[key] = f"the paper shows no single fit of image {image} (Figure 1: image {fig1['image']})"
        elif s not in (table1 if image is None else fig1["psnr"]):
            why_not[key] = "not a Table 1 row" if image is None else "not in Figure 1"
        elif mismatch := next(filter(None, (table1_mismatch(r, s) for r in row["runs"])), None):
            why_not[key] = mismatch
        elif row["runs"]:
            paper[key] = table1[s] if image is None else {TABLE1_EPOCHS[-1]: {"psnr": fig1["psnr"][s]}}
    return paper, why_not


def _columns(chosen, ssim, lpips):
    """(key, label, digits) per epoch: Table 1's PSNR / SSIM, or PSNR / SNR / SI-SNR for audio."""
    if any("si_snr" in m for r in chosen for m in r["results"]["mean"].values()):
        return [("psnr", "PSNR", 2), ("snr", "SNR", 2), ("si_snr", "SI-SNR", 2)]
    return [("psnr", "PSNR", 2), ("ssim_ref", "SSIM", 4)] + ([("ssim", "SSIM (textbook)", 4)] if ssim else []) + \
        ([("lpips", "LPIPS", 4)] if lpips else [])


def _row_cells(name, row, ref, epochs, columns, attrs):
    """One markdown row: name, Attributes, each epoch's mean ± std over seeds [paper's], source, status."""
    done = row["runs"]
    cells = [md_cell(name)]  # names and messages are data: escaped, never markup
    attrs = [r["results"].get("attributes") or attrs or {} for r in done]
    for k, digits in (("std", 2), ("skew", 2), ("range", 2)):  # the data's, the same for every seed
        have = [a.get(k) for a in attrs if a.get(k) is not None]
        cells.append(_cell(have[:1], ref.get(k), digits) if have else "-")
    for e in epochs:
        means = [r["results"].get("mean", {}).get(e) for r in done]
        pe = ref.get(e, {})
        cells += [_cell([m.get(k) for m in means], pe.get(k), digits) if done and all(means) else "-"
                  for k, _, digits in columns]
    return cells + [SOURCES[done[0]["source"] if done else row["unfinished"][0]["source"]][0], md_cell(_status(row))]


def _notes(rows, names, order, paper, why_not, image):
    """The lines under a table: sources, what ± means, the paper's numbers and why a row has none."""
    lines, sources = [], {k[1] for k in rows}
    if len(sources) > 1 or sources != {"ours"}:
        lines += ["", "Source: " + "; ".join(f"{SOURCES[x][0]}: each epoch measured {SOURCES[x][1]}" for x in SOURCES
                                             if x in sources) + "."]
    if any(len(row["runs"]) > 1 for row in rows.values()):
        what = f"value on image {image}" if image else "image-averaged value"
        lines += ["", f"`m ± s`: mean over seeds of the {what} ± its standard deviation over seeds (n - 1)."]
    if paper:
        unsized = [names[k] for k in order
                   if k in paper and not all(r["results"].get("sample_shapes") for r in rows[k]["runs"])]
        lines += ["", "Cells read `ours [paper, ours - paper]`; the paper's numbers are " +
                  (f"Figure 1 (one fit of DIV2K image {image}" if image else "Table 1 (DIV2K") +
                  ", SIREN 3x256, 5000 epochs, the decaying lr schedule)" +
                  (f"; image size not recorded by {', '.join(unsized)}: taken as 512x512" if unsized else "") + "."]
    if why_not:
        by_reason = {}
        for key in (k for k in order if k in why_not):
            by_reason.setdefault(why_not[key], []).append(names[key])
        lines += ["", "No paper numbers beside " + "; ".join(f"{', '.join(keys)}: {reason}"
                                                              for reason, keys in by_reason.items()) + "."]
    return lines


def protocol_card(rows, names, fields, ssim=False):
    """The protocol line under a table of `rows` (fields: those its row names bracket)."""
    runs = [r for row in rows.values() for r in row["runs"] + row["unfinished"]]
    samples = {n for r in runs if r["results"] for n in r["results"].get("samples", {})}
    variant = protocol.SSIM_VARIANT + ("; textbook SSIM beside it" if ssim else "")
    return protocol.card({names[k]: k[2] for k in rows}, fields, samples, variant)


def table(experiment, runs, epochs, show_paper, ssim, lpips, data_attrs=None, image=None):
    """One experiment's Table 1 as markdown, its protocol card under it. data_attrs: {row key: attributes}
    from --data for rows whose runs store none; image: that image's values instead of the means."""
    rows, names, order, fields = table_rows(runs)
    paper, why_not = paper_numbers(rows, image) if show_paper else ({}, {})
    chosen = [r for row in rows.values() for r in row["runs"]]
    avail = sorted({e for r in chosen for e in r["results"].get("mean", {})}, key=int)
    if epochs is None:  # Table 1's epochs that were logged, and every run's last (a 2000-epoch run shows 2000)
        last = {max(r["results"]["mean"], key=int) for r in chosen if r["results"].get("mean")}
        epochs = sorted(({e for e in TABLE1_EPOCHS if e in avail} or set(avail)) | last, key=int)
    columns = _columns(chosen, ssim, lpips)
    head = ["Trans.", "STD", "Skew", "Range"]
    for e in epochs:
        label = f"{int(e) / 1000:g}k" if int(e) >= 500 and int(e) % 500 == 0 else e
        head += [f"{label} {name}" for _, name, _ in columns]
    head += ["Source", "Runs"]
    title = md_cell(experiment) + (f": image {md_cell(image)}" if image else "")
    lines = [f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key in order:
        cells = _row_cells(names[key], rows[key], paper.get(key, {}), epochs, columns, (data_attrs or {}).get(key))
        lines.append("| " + " | ".join(cells) + " |")
    lines += _notes(rows, names, order, paper, why_not, image)
    lines += ["", protocol_card(rows, names, fields, ssim)]
    return "\n".join(lines) + "\n"


METRICS = {  # --metric: the axis label of each metric the runs record
    "psnr": "PSNR (dB)", "ssim_ref": "SSIM (Table 1's variant)", "ssim": "SSIM (textbook)", "lpips": "LPIPS",
    "snr": "SNR (dB)", "si_snr": "SI-SNR (dB)", "mse": "MSE in the transform's own domain"}


def curves(runs, metric="psnr", paper=False, image=None):
    """Per row "row" (the table's name), "label", "epochs", "mean" and "std" over seeds (None for one) of
    `metric` at every epoch each seed logged, and with `paper` "paper": {epoch: the paper's value}."""
    rows, names, order, _ = table_rows(runs)
    refs = paper_numbers(rows, image)[0] if paper else {}
    out = []
    for key in order:
        done = rows[key]["runs"]
        if not done:
            continue
        common = set.intersection(*({e for e, m in r["results"]["mean"].items() if m.get(metric) is not None}
                                    for r in done))
        epochs = sorted(common, key=int)
        if not epochs:
            continue
        stats = [seed_stats([r["results"]["mean"][e][metric] for r in done]) for e in epochs]
        marks = {int(e): v[metric] for e, v in refs.get(key, {}).items() if e in common and metric in v}
        out.append({"row": names[key], "label": names[key] + (f", {len(done)} seeds" if len(done) > 1 else ""),
                    "epochs": [int(e) for e in epochs], "mean": [m for m, _ in stats],
                    "std": [sd for _, sd in stats] if len(done) > 1 else None, "paper": marks or None})
    return out


def one_image(runs, image):
    """The runs with their means over images replaced by image `image`'s: one fit, as Figure 1 shows."""
    out = []
    for r in runs:
        samples = (r["results"] or {}).get("samples", {})
        if image in samples:
            attrs = (r["results"].get("sample_attributes") or {}).get(image)
            out.append({**r, "results": {**r["results"], "mean": samples[image], "attributes": attrs}})
        elif not complete(r):
            out.append(r)
    return out


def is_baseline(param_set, baseline):
    """Whether a parameter set is `baseline` itself, `<backbone>-<baseline>` or `<baseline>@<protocol>`."""
    return param_set == baseline or param_set.endswith("-" + baseline) or param_set.startswith(baseline + "@")


def transform_params(folder):
    """{image: its fitted transform's parameters} from a run folder's last checkpoint of each image."""
    out = {}
    for path in glob.glob(os.path.join(glob.escape(folder), "ckpt", "ckpt_*.pth")):
        try:
            state = read_checkpoint(path)
        except InputError as e:
            print(f"note: {e}; its transform's parameters are left out", file=sys.stderr)
            continue
        if state.get("format") and state["epoch"] >= out.get(state["sample"], (-1,))[0]:
            out[state["sample"]] = (state["epoch"], state["transform"]["params"])
    return {n: p for n, (_, p) in out.items()}


def image_attributes(runs, base_runs):
    """{attribute: {image: value}} that the runs record per image and that differ between images: the data's
    (the baseline's transformed data) and the row's std, skew, range, and its fitted gamma, L and R."""
    out = {}
    for what, rs in (("data", base_runs), ("after the row's transform", runs)):
        for image, a in (rs[0]["results"].get("sample_attributes") or {}).items():
            for k in ("std", "skew", "range"):
                out.setdefault(f"{k} ({what})", {})[image] = a[k]
    for image, p in (transform_params(runs[0]["folder"]) if runs[0]["source"] == "ours" else {}).items():
        span = p.get("max", 1) - p.get("min", 0) or 1
        for k, v in (("gamma", p.get("gamma")), ("L / range", p.get("left", 0) / span),
                     ("R / range", p.get("right", 0) / span)):
            if v is not None:
                out.setdefault(k, {})[image] = v
    kept = {}  # one name per variable that varies (an affine transform leaves the skew as it was)
    for k, v in out.items():
        if len(set(v.values())) > 1 and not any(w.keys() == v.keys() and all(
                abs(v[i] - w[i]) <= 1e-4 * (1 + abs(w[i])) for i in v) for w in kept.values()):
            kept[k] = v
    return kept


def correlations(c, attributes):
    """{attribute: Spearman's rho of the per-image Δ with it, and its permutation p}."""
    out = {}
    for k, values in attributes.items():
        images = [i for i in c["per_image"] if i in values]
        r = paired.rank_correlation([c["per_image"][i] for i in images], [values[i] for i in images])
        if r is not None:
            out[k] = {**r, "n_images": len(images)}
    return out


def comparison(runs, baseline, metric, tie, image=None):
    """{row name: util.paired's numbers against the baseline row of its own protocol and source}."""
    rows, names, order, fields = table_rows(runs)
    out = {}
    for key in order:
        base = [k for k in rows if k[1:] == key[1:] and is_baseline(k[0], baseline)]
        if not base or key in base or not rows[key]["runs"] or not rows[base[0]]["runs"]:
            continue
        numbers = paired.compare(rows[key]["runs"], rows[base[0]]["runs"], metric, tie, image)
        if numbers is None:
            continue
        base_values = [paired.last_values(r, metric) for r in rows[base[0]]["runs"]]
        absolute = {i: seed_stats([v.get(i) for v in base_values])[0] for i in numbers["per_image"]}
        attrs = image_attributes(rows[key]["runs"], rows[base[0]]["runs"]) if image is None else {}
        out[names[key]] = {**numbers, "baseline": names[base[0]], "baseline_values": absolute,
                           "attributes": attrs, "correlations": correlations(numbers, attrs),
                           "protocol": protocol_card({k: rows[k] for k in (key, base[0])}, names, fields)}
    return out


def stat_cells(c, digits):
    """A comparison's cells: mean Δ [interval], median Δ, signed-rank p, W / T / L, verdict (bold if any)."""
    ci = "[" + ", ".join(f"{v:+.{digits}f}" for v in c["ci95"]) + "]" if c["ci95"] else "n/a"
    v = c["verdict"]
    return [f"{c['mean_delta']:+.{digits}f} {ci}", f"{c['median_delta']:+.{digits}f}",
            f"{c['p_signed_rank']:.3g}", f"{c['wins']} / {c['ties']} / {c['losses']}",
            f"**{v}**" if v in ("better", "worse") else v]


STAT_HEAD = ["mean Δ [95% t-interval]", "median Δ", "signed-rank p", "W / T / L", "verdict"]


def stat_note(metric, tie, base, seeds, n_images):
    unit = " dB" if metric in paired.TIES else ""
    return (f"Δ: a row's last-epoch {metric} minus {md_cell(base)}'s on the same image with the same seed, averaged "
            f"over the seeds both ran ({'/'.join(map(str, seeds))} seed(s), {'/'.join(map(str, n_images))} images). "
            f"Method: {paired.METHOD}. W / T / L: images won, tied (within {tie:g}{unit}) and lost. Verdict: better "
            f"or worse where the interval excludes zero and p < 0.05 on the same side; with fewer than "
            f"{paired.MIN_IMAGES} images no signed-rank p can be below 0.05, and none is claimed.")


def comparison_table(experiment, compared, metric, tie):
    """The paired comparison as markdown: a table per baseline row (protocol), the best per image in bold."""
    digits = 2 if metric in paired.TIES else 4
    by_base = {}
    for name, c in compared.items():
        by_base.setdefault(c["baseline"], {})[name] = c
    lines = []
    for base, group in by_base.items():
        images = sorted({i for c in group.values() for i in c["per_image"]})
        head = ["Row"] + images + STAT_HEAD
        lines += [f"### {md_cell(experiment)}: paired {metric} differences against {md_cell(base)}", "",
                  "| " + " | ".join(md_cell(h) for h in head) + " |", "|" + "---|" * len(head)]
        first = next(iter(group.values()))
        sign = -1 if metric in paired.LOWER_IS_BETTER else 1
        best = {i: max(sign * c["per_image"][i] for c in group.values() if i in c["per_image"]) for i in images}
        base_cells = [f"{first['baseline_values'][i]:.{digits}f}" if i in first["baseline_values"] else "-"
                      for i in images]
        base_cells = [f"**{v}**" if best[i] < -tie and v != "-" else v for v, i in zip(base_cells, images)]
        lines.append("| " + " | ".join([md_cell(f"{base} (baseline: its {metric})")] + base_cells + [""] * 5) + " |")
        for name, c in group.items():
            cells = [md_cell(name)]
            for i in images:
                v = c["per_image"].get(i)
                shown = "-" if v is None else f"{v:+.{digits}f}"
                cells.append(f"**{shown}**" if v is not None and best[i] > tie and sign * v == best[i] else shown)
            lines.append("| " + " | ".join(cells + stat_cells(c, digits)) + " |")
        lines += ["", stat_note(metric, tie, base, sorted({len(c["seeds"]) for c in group.values()}),
                                sorted({c["n_images"] for c in group.values()})), "", first["protocol"], ""]
        lines += why_table(group)
    return "\n".join(lines)


def why_table(group):
    """Where a row helps: per attribute the Spearman rho of its per-image Δ with it, and its worst images."""
    keys = list(dict.fromkeys(k for c in group.values() for k in c["correlations"]))
    if not keys:
        return []
    head = ["Row", "worst images (Δ)"] + keys
    lines = ["Where each row helps: Spearman ρ of its per-image Δ with what the runs record per image "
             "(two-sided permutation p in brackets, 9,999 shuffles of a fixed generator, exact up to 7 images).", "",
             "| " + " | ".join(md_cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    for name, c in group.items():
        worst = sorted(c["per_image"], key=c["per_image"].get)[:2]
        cells = [md_cell(name), ", ".join(f"{md_cell(i)} ({c['per_image'][i]:+.2f})" for i in worst)]
        cells += [f"{r['rho']:+.2f} (p {r['p']:.2g})" if (r := c["correlations"].get(k)) else "-" for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def pooled(by_set, metric, tie):
    """{row: {"sets", "pooled": summary over every image of every set, "helps"}} for rows of several sets."""
    sign = -1 if metric in paired.LOWER_IS_BETTER else 1
    out = {}
    for row in dict.fromkeys(r for cs in by_set.values() for r in cs):
        sets = {s: cs[row] for s, cs in by_set.items() if row in cs}
        if len(sets) < 2:
            continue
        diffs = [v for c in sets.values() for v in c["per_image"].values()]
        said = [c["verdict"] for c in sets.values()]
        helps = (f"better on {said.count('better')} of {len(sets)} sets, worse on {said.count('worse')}, "
                 f"median Δ above zero on {sum(sign * c['median_delta'] > 0 for c in sets.values())} of {len(sets)}")
        out[row] = {"sets": sets, "pooled": paired.summary(diffs, sign, tie), "helps": helps}
    return out


def pooled_table(experiment, pools, metric, tie):
    """pooled() as markdown: per row a line per image set and the pooled line; in words, on how many sets it helps."""
    digits = 2 if metric in paired.TIES else 4
    head = ["Row", "image set", "images x seeds"] + STAT_HEAD
    lines = [f"### {md_cell(experiment)}: paired {metric} differences per image set and pooled", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row, p in pools.items():
        for s, c in p["sets"].items():
            lines.append("| " + " | ".join([md_cell(row), md_cell(s), f"{c['n_images']} x {len(c['seeds'])}"]
                                           + stat_cells(c, digits)) + " |")
        lines.append("| " + " | ".join([md_cell(row), "**pooled**", f"{p['pooled']['n_images']} images"]
                                       + stat_cells(p["pooled"], digits)) + " |")
    lines += ["", *(f"- {md_cell(row)}: {p['helps']}." for row, p in pools.items()), "",
              "Pooled: every image of every set as one sample of seed-averaged differences (the sets' images are "
              f"different images). Method: {paired.METHOD}; W / T / L within {tie:g}.", ""]
    return "\n".join(lines)


def _one_or_all(values):
    values = list(dict.fromkeys(str(v) for v in values if v is not None))
    return "/".join(values) if values else "?"


def _image_size(path):
    """"HxW" of the first image a run's --input_path names, or None (not an image, or gone)."""
    from PIL import Image

    from util.io import IMAGE_EXTS, list_samples

    try:
        # the folder's notes (files of another type) are the fit's to log, not every title's
        with Image.open(list_samples(path, IMAGE_EXTS, log=lambda note: None)[0]) as im:
            return f"{im.size[1]}x{im.size[0]}"
    except (UserError, OSError, IndexError, ValueError):
        return None


def curves_title(experiment, runs):
    """What a panel of curves was fitted on, as far as the runs say: data, images, size, backbone, epochs."""
    done = [r for row in pick(runs).values() for r in row["runs"]]
    args = [r["args"] for r in done]
    n = _one_or_all(len(r["results"]["samples"]) for r in done if r["results"].get("samples"))
    sizes = [_image_size(a["input_path"]) for a in args
             if a.get("input_path") and a.get("signal_type", "image") == "image"]
    parts = [_one_or_all(protocol.data_name(a["input_path"]) for a in args if a.get("input_path")),
             f"{n} image{'' if n == '1' else 's'}" + (f" {_one_or_all(sizes)}" if any(sizes) else "")
             if n != "?" else "?",
             _one_or_all(f"{a['model_type']} {a.get('hidden_layers')}x{a.get('hidden_features')}" for a in args
                         if a.get("model_type")),
             f"{_one_or_all(a.get('num_epochs') for a in args)} epochs"]
    return f"{experiment}: " + ", ".join(p for p in parts if not p.startswith("?"))


def data_attributes(runs, data_dir):
    """{row key: Attributes of the run's images in data_dir} for rows whose runs store none (published logs)."""
    from components.transform import TransformError, attributes_of_images  # --data only (tests/test_layers.py)
    from util.io import IMAGE_EXTS, list_samples, read_image, sample_name

    files = {sample_name(f): f for f in list_samples(data_dir, IMAGE_EXTS)}
    out = {}
    for r in runs:
        key = key_of(r)
        if key in out or not complete(r) or r["results"].get("attributes"):
            continue
        names = list(r["results"]["samples"])
        missing = [n for n in names if n not in files]
        if missing:
            print(f"note: {data_dir}: no image named {', '.join(missing[:3])} (run {r['folder']}); "
                  f"its Attributes are left out", file=sys.stderr)
            continue
        try:
            # --data applies a published run's transform options to images: each must be of its kind
            check_kinds(dict(r["args"]), os.path.join(r["folder"], "args.json"), TRANSFORM_OPTIONS)
            out[key] = attributes_of_images((read_image(files[n]) for n in names), r["args"])
        except KeyError as e:
            print(f"note: {r['folder']}: args.json lacks option {e}; its Attributes are left out", file=sys.stderr)
        except (UserError, TransformError) as e:
            print(f"note: {r['folder']}: {e}; its Attributes are left out", file=sys.stderr)
    return out


def parse(argv):
    ap = Parser(prog="python summarize.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("log_dir", nargs="+", help="log folders (several: one experiment on several image sets)")
    ap.add_argument("--epochs", default=None, help="comma-separated epochs (default: Table 1's that were logged)")
    ap.add_argument("--paper", action="store_true",
                    help="add the paper's Table 1 numbers and the differences (rows run in Table 1's setting)")
    ap.add_argument("--ssim", action="store_true", help="also the textbook SSIM")
    ap.add_argument("--lpips", action="store_true", help="also LPIPS")
    ap.add_argument("--data", default=None, metavar="DIR",
                    help="the images the published code's runs were fitted on, for their Attributes")
    ap.add_argument("--baseline", default=None, metavar="ROW",
                    help="the paired comparison: each row's last-epoch --metric minus ROW's, per image and seed")
    ap.add_argument("--tie", type=float, default=None, metavar="T",
                    help="--baseline: a difference within T is a tie (default 0.05 dB; 0.001 for SSIM, LPIPS)")
    ap.add_argument("--json", default=None, metavar="OUT.json", help="--baseline: the comparison's numbers as JSON")
    ap.add_argument("--image", default=None, metavar="NAME",
                    help="one image's values instead of the means over images (Figure 1's view of one fit)")
    ap.add_argument("--plot", default=None, metavar="OUT.png",
                    help="--metric against epoch, one line per row; with --baseline the per-image differences beside")
    ap.add_argument("--why", default=None, metavar="OUT.png",
                    help="--baseline: per image each row's difference against what the runs record (skew, gamma...)")
    ap.add_argument("--metric", default="psnr", choices=list(METRICS),
                    help="what --plot draws and --baseline compares (default psnr)")
    args = ap.parse_args(argv)
    for d in args.log_dir:
        if not os.path.isdir(d):
            raise OptionError(f"{d}: " + ("a file, not a log folder" if os.path.exists(d) else "no such folder"))
    if args.data and not os.path.isdir(args.data):
        raise OptionError(f"--data {args.data}: no such folder")
    args.epoch_list = [e.strip() for e in args.epochs.split(",")] if args.epochs else None
    if args.epoch_list is not None and not all(EPOCH.fullmatch(e) for e in args.epoch_list):
        raise OptionError(f"--epochs {args.epochs}: expected comma-separated epochs, e.g. 500,1000")
    if args.tie is not None and not (math.isfinite(args.tie) and args.tie >= 0):
        raise OptionError(f"--tie {args.tie}: expected a difference >= 0")
    if args.baseline is not None and not args.baseline.strip():
        raise OptionError("--baseline '': expected a row name, e.g. scale_1.0")
    if args.why and not args.baseline:
        raise OptionError("--why draws the paired differences: give --baseline ROW with it")
    if args.json and not args.baseline:
        raise OptionError("--json writes the paired comparison: give --baseline ROW with it")
    if args.json is not None and (args.json in ("", "-") or os.path.isdir(args.json)):
        raise OptionError(f"--json {args.json!r}: expected a file to write (OUT.json); the table goes to stdout")
    for option, out in (("--plot", args.plot), ("--why", args.why)):
        if out:
            from util.plot import plot_format  # (imports torch: only when a plot is asked for)

            plot_format(out, option)  # a suffix no backend writes is refused before the table, not after it
    args.tie = paired.TIES.get(args.metric, paired.TIE_OTHER) if args.tie is None else args.tie
    return args


def experiments(args, log_dir):
    """{experiment: its runs} under log_dir (one image's values with --image)."""
    skipped = []
    runs = load_runs(log_dir, skipped)
    if not runs:
        raise InputError(f"{log_dir}: no run folders (args.json) found"
                         + (f"; {len(skipped)} unreadable, e.g. {skipped[0]}" if skipped else ""))
    for reason in skipped:
        print(f"note: left out: {reason}", file=sys.stderr)
    groups = {}
    for r in runs:
        groups.setdefault(r["experiment"], []).append(r)
    if args.image is not None:
        groups = {exp: one_image(rs, args.image) for exp, rs in groups.items()}
        groups = {exp: rs for exp, rs in groups.items() if any(complete(r) for r in rs)}
        if not groups:
            raise OptionError(f"--image {args.image}: no finished run of {log_dir} fitted an image of that name")
    return groups


def compare_all(groups, args):
    """{experiment: the paired comparison} of the experiments with the baseline row; OptionError if none has it."""
    out = {exp: comparison(rs, args.baseline, args.metric, args.tie, args.image) for exp, rs in sorted(groups.items())}
    out = {exp: c for exp, c in out.items() if c}
    if not out:
        sets = sorted({r["set"] for rs in groups.values() for r in rs})
        raise OptionError(f"--baseline {args.baseline}: no finished row of that name shares a protocol, seed and "
                          f"image with another row (rows: {', '.join(sets[:12])})")
    return out


def comparison_json(compared, pools, args):
    """The --json file: {"rows": {row: numbers}} for one log folder ("<experiment>/<row>" where several
    experiments have the baseline), else {"sets": {log folder: rows}, "pooled": {row: numbers}}."""
    def flat(cs):
        return {(f"{exp}/{name}" if len(cs) > 1 else name): c for exp, rows in cs.items() for name, c in rows.items()}

    out = {"baseline": args.baseline, "metric": args.metric, "tie": args.tie, "method": paired.METHOD,
           **({"image": args.image} if args.image else {})}
    if len(compared) == 1:
        return {**out, "rows": flat(next(iter(compared.values())))}
    return {**out, "sets": {d: flat(cs) for d, cs in compared.items()},
            "pooled": flat({exp: {r: {**p["pooled"], "helps": p["helps"]} for r, p in rows.items()}
                            for exp, rows in pools.items()})}


def plot(sets, compared, args):
    from util.plot import save_figure, summary_figure

    label = f"{METRICS[args.metric]}, " + (f"image {args.image}" if args.image else "mean over images")
    panels = [((f"{d}: " if len(sets) > 1 else "") + curves_title(exp, rs)
               + (f", image {args.image}" if args.image else ""),
               curves(rs, args.metric, args.paper, args.image), (compared or {}).get(d, {}).get(exp))
              for d, groups in sets.items() for exp, rs in sorted(groups.items())]
    panels = [p for p in panels if p[1]]
    if not panels:
        raise OptionError(f"--metric {args.metric}: no finished run of {', '.join(sets)} recorded it")
    save_figure(summary_figure(panels, label, METRICS[args.metric]), args.plot)
    print(f"plot: {args.plot}", file=sys.stderr)


def main(argv=None):
    threads.apply()  # before torch loads OpenMP (--ssim, --lpips, --data, --plot use it)
    try:
        args = parse(argv)
        sets = {d: experiments(args, d) for d in args.log_dir}
        compared = {d: compare_all(groups, args) for d, groups in sets.items()} if args.baseline else {}
        for d, groups in sets.items():
            if len(sets) > 1:
                print(f"# {md_cell(d)}\n")
            for exp in sorted(groups):
                attrs = data_attributes(groups[exp], args.data) if args.data else None
                print(table(exp, groups[exp], args.epoch_list, args.paper, args.ssim, args.lpips, attrs, args.image))
                if exp in compared.get(d, {}):
                    print(comparison_table(exp, compared[d][exp], args.metric, args.tie))
        pools = {exp: pooled({d: cs[exp] for d, cs in compared.items() if exp in cs}, args.metric, args.tie)
                 for exp in sorted({e for cs in compared.values() for e in cs})} if len(sets) > 1 else {}
        for exp, p in pools.items():
            if p:
                print(pooled_table(exp, p, args.metric, args.tie))
        if args.json:
            from util.io import write_output

            numbers = comparison_json(compared, pools, args)
            write_output(args.json, lambda f: f.write(json.dumps(numbers, indent=1, allow_nan=False) + "\n"))
            print(f"json: {args.json}", file=sys.stderr)
        if args.plot:
            plot(sets, compared, args)
        if args.why:
            from util.plot import save_figure, why_figure

            rows = [((f"{d}: " if len(sets) > 1 else "") + f"{exp}: {name}", c) for d, cs in compared.items()
                    for exp, group in cs.items() for name, c in group.items() if c["correlations"]]
            if not rows:
                raise OptionError(f"--why {args.why}: the runs record nothing per image that differs between images")
            save_figure(why_figure(rows, METRICS[args.metric]), args.why)
            print(f"why: {args.why}", file=sys.stderr)
    except (UserError, OSError) as e:
        return exit_code_for(e)
    return 0


if __name__ == "__main__":
    heap.leave(main())

"""A run's protocol: what moves its numbers besides its parameter set and seed, read from args.json. The
summariser never averages or pairs runs of two protocols. A run folder written before an option existed
ran with that option's PAST value."""
import os

from util.declarations import LOSSES, SCHEDULES

# (option, how the card names it); the order of the card and of a row's bracketed differences
FIELDS = (("lr_schedule", "lr schedule"), ("loss", "loss"), ("lr", "lr"), ("num_epochs", "epochs"),
          ("model_type", "backbone"), ("hidden_layers", "depth"), ("hidden_features", "width"),
          ("first_omega", "first omega"), ("hidden_omega", "hidden omega"), ("batch_size", "batch"), ("input_path", "data"))
PAST = {"lr_schedule": SCHEDULES[0], "loss": LOSSES[0]}  # before --lr_schedule and --loss: the published ones (protocol.md)
SSIM_VARIANT = "ssim_ref (Table 1's variant: the reference's SSIM)"


def _value(v):
    """An option's value as the card shows it: 1e-4, not 0.0001; None as the run's default."""
    if v is None:
        return "default"
    if isinstance(v, float) and v != 0 and abs(v) < 0.01:
        mantissa, exp = f"{v:.2e}".split("e")
        return f"{float(mantissa):g}e{int(exp)}"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def data_name(path):
    """The data a run fitted, as its folder or file: the last two parts of --input_path."""
    return os.path.join(*os.path.normpath(path).split(os.sep)[-2:]) if isinstance(path, str) and path else "?"


def of(args):
    """A run's protocol: ((option, shown value), ...) in FIELDS' order."""
    out = []
    for k, _ in FIELDS:
        v = args.get(k, PAST.get(k))
        if k == "batch_size" and v is None and args.get("signal_type", "image") != "video":
            v = "full"  # images and audio fit every coordinate each step
        out.append((k, data_name(v) if k == "input_path" else _value(v)))
    return tuple(out)


def bracketed(by_set):
    """The fields in which some set's runs differ (by_set: {set: [protocol]}); sets' own differences name nothing."""
    return [k for i, (k, _) in enumerate(FIELDS) if any(len({p[i][1] for p in ps}) > 1 for ps in by_set.values())]


def label(proto, fields):
    """The bracket that names a protocol's row: ` [constant, lr 5e-4]`, its values of `fields` ("" for none)."""
    shown = ", ".join(v if k == "lr_schedule" else f"{dict(FIELDS)[k]} {v}" for k, v in proto if k in fields)
    return f" [{shown}]" if shown else ""


def card(by_row, fields=(), samples=(), ssim=SSIM_VARIANT):
    """The line under a table (by_row: {row name: protocol}): each field's value(s), with the rows of each."""
    parts = []
    for i, (k, name) in enumerate(FIELDS):
        values = {}
        for row, p in by_row.items():
            values.setdefault(p[i][1], []).append(row)
        if len(values) == 1:
            parts.append(f"{name} {next(iter(values))}")
        elif k in fields:
            parts.append(f"{name} {' / '.join(values)} (in the rows' brackets)")
        else:
            parts.append(f"{name} " + " / ".join(f"{v} ({', '.join(rows)})" for v, rows in values.items()))
    names = sorted(samples)
    if names:
        listed = ", ".join(names[:16]) + (" ..." if len(names) > 16 else "")
        parts[-1] += f" ({len(names)} image{'' if len(names) == 1 else 's'}: {listed})"
    return "Protocol: " + "; ".join(parts) + f"; SSIM {ssim}."

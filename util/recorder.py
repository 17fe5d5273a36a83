"""Metrics of a run: per sample and epoch, means, attributes; results.json and res_table.md."""
import math
import os

from util.errors import InputError
from util.io import write_json, write_text
from util.readers import md_cell, read_results


def finite_mean(values):
    """Mean of the finite values (None and NaN skipped); None if there are none."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    return sum(values) / len(values) if values else None


def run_complete(folder):
    """Whether a run folder's results.json says every sample finished (an unreadable one does not)."""
    try:
        return read_results(os.path.join(folder, "results.json"))["complete"]
    except InputError:
        return False


def write_failed(folder, reason):
    """Mark a run's results.json failed, with the reason; the metrics it holds so far stay."""
    path = os.path.join(folder, "results.json")
    try:
        res = read_results(path)
    except InputError:
        res = {"samples": {}, "mean": {}, "attributes": None}
    write_json(path, {**res, "complete": False, "failed": True, "error": reason})


class Recorder:
    """samples: {name: {epoch(str): {metric: value or None}}}; attributes: {name: {std, skew, range}};
    shapes: {name: [3, 512, 512]} (the summariser's --paper checks them); error_scale: {name: its error
    maps' scale top}. results.json also names --lr_schedule and --loss (older ones ran decay and mse)."""

    def __init__(self, num_epochs, lr_schedule, loss):
        self.num_epochs, self.lr_schedule, self.loss = num_epochs, lr_schedule, loss
        self.samples, self.attributes, self.shapes, self.error_scale = {}, {}, {}, {}
        self.finished, self.time_s = [], 0.0

    def record(self, name, epoch, metrics):
        """Metrics of one sample at one epoch; anything not finite becomes None (null), never NaN."""
        self.samples.setdefault(name, {})[str(epoch)] = clean_metrics(metrics)

    def describe(self, name, attributes, shape, error_scale=None):
        """One sample's shape, Table 1's Attributes of its transformed data, its error maps' scale (or None)."""
        self.attributes[name] = attributes
        self.shapes[name] = list(shape)
        if error_scale is not None:
            self.error_scale[name] = float(error_scale)

    def finish(self, name):
        """Mark a sample finished (its reconstruction is written): a resumed run skips it."""
        self.finished.append(name)

    def add_time(self, seconds):
        """Training time, summed over snapshots and resumes."""
        self.time_s += seconds

    def mean(self):
        epochs = sorted({e for recs in self.samples.values() for e in recs}, key=int)
        out = {}
        for e in epochs:
            rows = [recs[e] for recs in self.samples.values() if e in recs]
            keys = list(dict.fromkeys(k for r in rows for k in r if not isinstance(r[k], list)))
            out[e] = {k: finite_mean([r.get(k) for r in rows]) for k in keys}
        return out

    def mean_attributes(self):
        rows = list(self.attributes.values())
        return {k: finite_mean([r[k] for r in rows]) for k in ("std", "skew", "range")} if rows else None

    def state(self):
        return {"samples": self.samples, "attributes": self.attributes, "shapes": self.shapes,
                "error_scale": self.error_scale, "finished": list(self.finished), "time_s": self.time_s}

    def load_state(self, state):
        self.samples = {n: dict(r) for n, r in state["samples"].items()}
        self.attributes = dict(state["attributes"])
        self.shapes = dict(state.get("shapes", {}))  # none in checkpoints written before shapes were recorded
        self.error_scale = dict(state.get("error_scale", {}))  # nor before error scales were
        self.finished = list(state["finished"])
        self.time_s = float(state["time_s"])

    def results(self, complete):
        return {"samples": self.samples, "mean": self.mean(), "attributes": self.mean_attributes(),
                "time_s": round(self.time_s, 3), "sample_attributes": self.attributes, "sample_shapes": self.shapes,
                **({"error_scale": self.error_scale} if self.error_scale else {}), "num_epochs": self.num_epochs,
                "lr_schedule": self.lr_schedule, "loss": self.loss, "complete": complete}

    def res_table(self):
        """Markdown: one table per logged epoch, a row per sample plus the mean row."""
        lines = []
        means = self.mean()
        for e, mean in means.items():
            keys = list(mean)
            lines += [f"| epoch_{e} | " + " | ".join(map(md_cell, keys)) + " |", "|" + "---|" * (len(keys) + 1)]
            for name, recs in self.samples.items():
                if e in recs:  # a sample's name is data (a file name): escaped, never markup
                    lines.append(f"| {md_cell(name)} | " + " | ".join(_fmt(recs[e].get(k)) for k in keys) + " |")
            lines += ["| mean | " + " | ".join(_fmt(mean[k]) for k in keys) + " |", ""]
        lines.append(f"time: {self.time_s:.1f} s")
        return "\n".join(lines) + "\n"

    def save(self, folder, complete=False):
        write_json(os.path.join(folder, "results.json"), self.results(complete))
        write_text(os.path.join(folder, "res_table.md"), self.res_table())


def clean_metrics(metrics):
    """Metrics with anything not finite as None (JSON's null), never NaN."""
    return {k: _clean(v) for k, v in metrics.items()}


def _clean(v):
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return None if v is None or not math.isfinite(float(v)) else float(v)


def _fmt(v):
    return "n/a" if v is None else f"{v:.8g}"

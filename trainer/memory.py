"""How many rows one forward + backward pass may take: the step's peak memory, estimated from the
rows, the model and the backbone, against a budget (--chunk_rows auto, the default). Where the full
batch fits, the step is not chunked (the same step, bit for bit). The constants were measured on the
CPU by `python benchmarks/calibrate_memory.py --calibrate`; how: docs/memory.md.
"""
import os
from dataclasses import dataclass

GB = 1e9  # --memory_gb counts 10^9 bytes
# Of the device's free memory, what is left to the rest of the machine and to estimation error: on the CPU
# half (the memory is shared with every other process, and MemAvailable counts page cache), on a GPU a tenth.
MARGIN = {"cpu": 0.5, "cuda": 0.1}
MIN_CHUNK = 1024  # rows: smaller chunks only add per-pass overhead
ALIGN = 1024  # chunks are a multiple of this many rows
EVAL_CHUNK = 1 << 16  # rows per evaluation pass (trainer.loop.predict)

# Peak bytes per row per (width x (hidden_layers + 1)) of one training step, measured at width 256,
# 3 hidden layers, 2 inputs, 3 outputs by `python benchmarks/calibrate_memory.py --calibrate` (see above).
STEP_BYTES = {"siren_fused": 9.08, "siren": 10.07, "finer": 14.09, "gauss": 11.13, "pemlp": 6.55, "wire": 18.44}
# A backbone registered in models.MODELS but not measured: planned as the measured one its class derives
# from, else as the most memory-hungry measured one (an overestimate chunks early, never runs out).
FALLBACK = max(STEP_BYTES, key=STEP_BYTES.get)
# Peak bytes per value (pixel x channel) of an image's log-epoch metrics and media (PSNR, both SSIMs,
# the TensorBoard reconstruction and error map) above what the process held, measured likewise at 2048 x 2048 x 3.
EVAL_BYTES = 30.51
# The step's (rows, C) float32 tensors besides the model, per value: the prediction, its residual, the
# decoded rows of the per-step PSNR (the inverse transform's two temporaries, the clamp) and their error,
# a video batch's gathered targets and data rows.
ROW_VALUE_BYTES = 4 * 8


@dataclass
class Plan:
    chunk: int  # rows per forward + backward pass; None: the whole batch at once
    chunks: int  # passes per step
    peak: float  # estimated peak bytes of the process
    budget: float  # bytes; None: --chunk_rows given
    full: float  # estimated peak bytes with the whole batch in one pass
    source: str  # where the budget comes from
    note: str = None  # how an unmeasured backbone was planned (logged)

    def line(self, batch):
        chunks = f"{self.chunk} rows per chunk, {self.chunks} chunks per step, estimated peak {self.peak / GB:.1f} GB"
        if self.budget is None:  # chunked as the user asked
            return f"memory: {self.source}: {chunks}"
        over = "" if self.peak <= self.budget else " (over the budget even so: try a smaller --chunk_rows)"
        return (f"memory: one pass over all {batch} rows would peak at ~{self.full / GB:.1f} GB, over the "
                f"{self.budget / GB:.1f} GB budget ({self.source}): {chunks}{over}")


def family(model_type):
    """(the STEP_BYTES entry that plans `model_type`'s step, a note saying so or None): its own, else the
    nearest measured class its class derives from (models.MODELS), else FALLBACK."""
    if model_type in STEP_BYTES:
        return model_type, None
    from models import MODELS

    measured = {MODELS[k].cls: k for k in STEP_BYTES if k in MODELS}
    base = next((measured[c] for c in MODELS[model_type].cls.__mro__[1:] if c in measured), None)
    why = f"its base class's, {base}" if base else f"the most memory-hungry measured backbone's, {FALLBACK}"
    return base or FALLBACK, (f"memory: backbone {model_type} has no measured bytes per row (trainer/memory.py's "
                              f"STEP_BYTES); planned with {why}")


def step_bytes_per_row(model_type, fused, width, hidden_layers):
    return STEP_BYTES["siren_fused" if fused else family(model_type)[0]] * width * (hidden_layers + 1)


def resident_bytes(device):
    """What the process holds now: the CPU's resident set, or the GPU allocator's tensors."""
    import torch

    if device.type == "cuda":
        return float(torch.cuda.memory_allocated(device))
    with open("/proc/self/statm") as f:
        return float(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def free_bytes(device):
    """What the device has free: CUDA's free memory, or the CPU's MemAvailable (None where unknown)."""
    import torch

    if device.type == "cuda":
        return float(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def estimate(rows, batch, values, channels, in_features, model_type, fused, width, hidden_layers, resident):
    """Estimated peak bytes of the process when a step runs `rows` rows per pass over a batch of `batch`
    rows of `channels` outputs (the whole signal: `values` values), with `resident` bytes held already."""
    model = step_bytes_per_row(model_type, fused, width, hidden_layers) * rows
    step_rows = (ROW_VALUE_BYTES * channels + 4 * in_features) * batch
    evaluation = EVAL_BYTES * values + 3 * 4 * width * min(rows, EVAL_CHUNK)
    return resident + model + step_rows + evaluation


def plan(batch, values, channels, in_features, model_type, fused, width, hidden_layers, device, memory_gb=None):
    """The Plan for a step over `batch` rows; its chunk is None where the whole batch fits the budget.
    `values`: the whole signal's values (rows x channels), which the log-epoch metrics hold."""
    resident = resident_bytes(device)
    if memory_gb is not None:
        budget, source = memory_gb * GB, f"--memory_gb {memory_gb:g}"
    else:
        free = free_bytes(device)
        if free is None:
            return Plan(None, 1, 0.0, None, 0.0, "no free-memory figure for this device")
        keep = 1 - MARGIN.get(device.type, MARGIN["cpu"])
        budget = resident + keep * free
        source = f"{keep:.0%} of the {free / GB:.1f} GB {'free on ' + str(device) if device.type == 'cuda' else 'available'}"
    args = (values, channels, in_features, model_type, fused, width, hidden_layers, resident)
    full = estimate(batch, batch, *args)
    if full <= budget:
        return Plan(None, 1, full, budget, full, source)
    # the largest chunk within the budget: estimate() is linear in the rows, with a kink at EVAL_CHUNK
    fixed, per_row = estimate(0, batch, *args), step_bytes_per_row(model_type, fused, width, hidden_layers)
    chunk = (budget - fixed - 3 * 4 * width * EVAL_CHUNK) // per_row
    if chunk < EVAL_CHUNK:
        chunk = (budget - fixed) // (per_row + 3 * 4 * width)
    chunk = max(int(chunk) // ALIGN * ALIGN, MIN_CHUNK)
    if chunk >= batch:  # too few rows to split
        return Plan(None, 1, full, budget, full, source)
    return Plan(chunk, -(-batch // chunk), estimate(chunk, batch, *args), budget, full, source)


def chunk_plan(chunk_rows, batch, values, channels, in_features, model_type, fused, width, hidden_layers, device,
               memory_gb=None):
    """--chunk_rows as given: 'auto' (the budget decides), 0 (never chunk) or a row count."""
    note = None if fused else family(model_type)[1]
    if chunk_rows == "auto":
        p = plan(batch, values, channels, in_features, model_type, fused, width, hidden_layers, device, memory_gb)
    elif chunk_rows == 0 or chunk_rows >= batch:
        p = Plan(None, 1, 0.0, None, 0.0, f"--chunk_rows {chunk_rows}")
    else:
        args = (values, channels, in_features, model_type, fused, width, hidden_layers, resident_bytes(device))
        p = Plan(chunk_rows, -(-batch // chunk_rows), estimate(chunk_rows, batch, *args), None,
                 estimate(batch, batch, *args), f"--chunk_rows {chunk_rows}")
    p.note = note
    return p

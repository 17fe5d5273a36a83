"""One colour per transform, the same in every figure the project draws (summarize.py's curves and paired
differences, the sweep's overlaid histograms): keyed by the transform's name, never by a row's position."""
import zlib

# tab10, then tab20's light shades. Table 1's rows and the ablations (config.py: util imports nothing above
# it; tests/test_paired.py checks that each has its own), the method and its baseline the two strongest.
KNOWN = ("sym_power", "scale_1.0", "z_score", "01_norm", "box_cox", "gamma_0.5", "gamma_2.0", "scale_0.5",
         "scale_2.0", "inverse", "rpp", "full", "no_calibration", "no_soft_boundary", "fixed_buffer_0.01",
         "median_only", "boundary_2", "boundary_10")
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7",
           "#dbdb8d", "#9edae5")
LINESTYLES = ("-", "--", ":", "-.")  # a transform's variants (protocols, backbones) in one figure


def transform_of(row):
    """The transform a row names, without protocol (`@decay_1e-4`, ` [constant]`), backbone or source."""
    return row.split(" ")[0].split("@")[0].split("-", 1)[-1]


def colour(row):
    name = transform_of(row)
    return PALETTE[KNOWN.index(name) if name in KNOWN else zlib.crc32(name.encode()) % len(PALETTE)]


def styles(rows):
    """{row: (colour, linestyle)}: the transform's colour; a transform's variants in turn a line style."""
    seen, out = {}, {}
    for r in dict.fromkeys(rows):
        n = seen[transform_of(r)] = seen.get(transform_of(r), -1) + 1
        out[r] = (colour(r), LINESTYLES[n % len(LINESTYLES)])
    return out

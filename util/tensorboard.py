"""TensorBoard helpers: the writer, colour maps for error images."""
import torch

# A perceptually ordered dark-to-bright map (anchors of matplotlib's "inferno"), enough for error maps.
_INFERNO = torch.tensor([
    [0.001, 0.000, 0.014], [0.258, 0.039, 0.406], [0.578, 0.148, 0.404],
    [0.865, 0.317, 0.226], [0.988, 0.645, 0.040], [0.988, 0.998, 0.645]])


def colormap(x):
    """Values in [0, 1] of shape (H, W) -> RGB (3, H, W) in [0, 1]."""
    x = x.clamp(0, 1) * (len(_INFERNO) - 1)
    i = x.floor().long().clamp(max=len(_INFERNO) - 2)
    w = (x - i).unsqueeze(-1)
    rgb = _INFERNO[i] * (1 - w) + _INFERNO[i + 1] * w
    return rgb.permute(2, 0, 1)


def make_writer(folder):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(log_dir=folder)


def write_hparams(writer, args, metrics):
    """The run's options and final metrics in TensorBoard's HParams tab (a whole sweep compares there).

    Written into the run's own events file, not a subfolder, so every run is one row."""
    from torch.utils.tensorboard.summary import hparams

    skip = {"save_folder", "resume", "eval_ckpt"}
    hp = {k: (v if isinstance(v, (bool, int, float, str)) else str(v)) for k, v in args.items() if k not in skip}
    mt = {f"hparam/{k}": v for k, v in metrics.items() if isinstance(v, float)}
    for summary in hparams(hp, mt):
        writer._get_file_writer().add_summary(summary)
    for k, v in mt.items():
        writer.add_scalar(k, v)

"""Video fitting (the paper's 3D experiments): (t, y, x) in [-1, 1]^3 -> C channel values.

Input: a folder of frames (natural order) or a video file imageio can read; or
`builtin:astronaut_pan`, a moving crop of scikit-image's astronaut that needs no download. One
epoch is one Adam step on a random batch of coordinates (--batch_size; its default, the
reference's 4096, means 1/16 of all pixels, at least 4096); evaluation runs on the full grid in
chunks. Metrics: PSNR over the whole video, SSIM and ssim_ref averaged over frames, and PSNR per
frame.
"""
import os

import numpy as np
import torch

from components.metrics import psnr, ssim, ssim_ref
from trainer.base_trainer import BaseTrainer, Signal
from util.io import IMAGE_EXTS, InputError, Nominal, atomic_write, list_samples, read_image, save_image, to_uint
from util.recorder import finite_mean

PREVIEW_FRAMES = 3
DEFAULT_BATCH = 4096


def astronaut_pan(frames=24, size=48):
    """A size x size window panning diagonally across a downscaled astronaut: (frames, H, W, 3) uint8."""
    from skimage import data
    from skimage.transform import resize

    big = resize(data.astronaut(), (2 * size, 2 * size), anti_aliasing=True, preserve_range=True)
    steps = np.linspace(0, size, frames).round().astype(int)
    return np.stack([big[s:s + size, s:s + size] for s in steps]).round().astype(np.uint8)


def read_video(path):
    """(C, F, H, W) float32 in the frames' own range, its Nominal range and a name."""
    if path.startswith("builtin:"):
        if path != "builtin:astronaut_pan":
            raise InputError(f"{path}: unknown built-in video (valid: builtin:astronaut_pan)")
        arr = astronaut_pan()
        return torch.from_numpy(arr.astype(np.float32)).permute(3, 0, 1, 2).contiguous(), Nominal(0, 255, 256), \
            "astronaut_pan"
    if os.path.isdir(path):
        frames = [read_image(f) for f in list_samples(path, IMAGE_EXTS)]
        shapes = {tuple(f.shape) for f, _ in frames}
        if len(shapes) != 1:
            raise InputError(f"{path}: frames differ in shape ({', '.join(map(str, sorted(shapes)))})")
        data = torch.stack([f for f, _ in frames], dim=1)
        return data, frames[0][1], os.path.basename(os.path.normpath(path))
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file or folder")
    try:
        import imageio.v3 as iio

        arr = np.asarray(iio.imread(path))
    except Exception as e:
        raise InputError(f"{path}: cannot be read as a video ({type(e).__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''}); a folder of frames always works")
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{path}: unsupported video layout {arr.shape} {arr.dtype}")
    nominal = Nominal.for_dtype(arr.dtype)
    return torch.from_numpy(arr.astype(np.float32)).permute(3, 0, 1, 2).contiguous(), nominal, \
        os.path.splitext(os.path.basename(path))[0]


class VideoTrainer(BaseTrainer):
    @classmethod
    def list_samples(cls, path):
        if not path.startswith("builtin:") and not os.path.exists(path):
            raise InputError(f"{path}: no such file or folder")
        return [path]  # one video, even when it is a folder of frames

    @staticmethod
    def sample_name(path):
        if path.startswith("builtin:"):
            return path.split(":", 1)[1]
        return os.path.splitext(os.path.basename(os.path.normpath(path)))[0]

    def read(self, path):
        data, nominal, name = read_video(path)
        return Signal(name, data, nominal)

    def batch_size(self, n):
        """--batch_size as given; its default (the reference's 4096) means 1/16 of all pixels, at least 4096."""
        bs = self.args.batch_size
        return min(max(bs, n // 16) if bs == DEFAULT_BATCH else bs, n)

    def evaluate(self, recon, data, signal):
        rng = signal.nominal.span
        frames = range(data.shape[1])
        per_psnr = [psnr(recon[:, f], data[:, f]) for f in frames]
        ssims = [ssim(recon[:, f], data[:, f], rng) for f in frames]
        refs = [ssim_ref(recon[:, f], data[:, f]) for f in frames]
        return {"psnr": psnr(recon, data), "ssim": finite_mean(ssims), "ssim_ref": finite_mean(refs),
                "psnr_frames": per_psnr}

    def save_prediction(self, signal, recon):
        folder = os.path.join(self.folder, "final_pred", signal.name)
        for f in range(recon.shape[1]):
            save_image(os.path.join(folder, f"frame_{f:04d}.png"), recon[:, f], signal.nominal)
        frames = np.stack([to_uint(recon[:, f], signal.nominal) for f in range(recon.shape[1])])
        if frames.dtype == np.uint8:
            import imageio.v2 as imageio

            gif = os.path.join(self.folder, "final_pred", f"{signal.name}.gif")
            try:
                atomic_write(gif, lambda fh: imageio.mimwrite(fh, frames, format=".gif", duration=40), mode="wb")
            except Exception as e:  # the frames are written; the animation is a convenience
                self.log(f"note: no animated preview ({type(e).__name__})")

    def _preview(self, video):
        idx = np.linspace(0, video.shape[1] - 1, min(PREVIEW_FRAMES, video.shape[1])).round().astype(int)
        return [(int(i), video[:, i]) for i in idx]

    def log_target(self, signal, data):
        for i, frame in self._preview(data):
            self.writer.add_image(f"{signal.name}/target/frame_{i}", signal.nominal.unit(frame), 0)

    def log_media(self, signal, epoch, recon, data):
        for i, frame in self._preview(recon):
            self.writer.add_image(f"{signal.name}/reconstruction/frame_{i}", signal.nominal.unit(frame), epoch)

"""Video fitting (the paper's 3D experiments): (t, y, x) in [-1, 1]^3 -> C channel values.

One epoch is one Adam step on a random batch of coordinates (--batch_size; its default, the
reference's 4096, means 1/16 of all pixels, at least 4096); evaluation runs on the full grid in
chunks. Metrics: PSNR over the whole video, SSIM and ssim_ref averaged over frames, and PSNR per
frame. Reading frames and writing them back: components/signals.py.
"""
from components.metrics import psnr, ssim, ssim_ref
from trainer.base_trainer import BaseTrainer
from util.recorder import finite_mean

DEFAULT_BATCH = 4096


def video_batch(batch_size, n):
    """Coordinates per step: --batch_size as given; its default (the reference's 4096) means 1/16 of all
    pixels, at least 4096."""
    return min(max(batch_size, n // 16) if batch_size == DEFAULT_BATCH else batch_size, n)


class VideoTrainer(BaseTrainer):
    def batch_size(self, n):
        return video_batch(self.args.batch_size, n)

    @classmethod
    def evaluate(cls, recon, data, signal, lpips=None):
        rng = signal.nominal.span
        frames = range(data.shape[1])
        return {"psnr": psnr(recon, data),
                "ssim": finite_mean([ssim(recon[:, f], data[:, f], rng) for f in frames]),
                "ssim_ref": finite_mean([ssim_ref(recon[:, f], data[:, f]) for f in frames]),
                "psnr_frames": [psnr(recon[:, f], data[:, f]) for f in frames]}

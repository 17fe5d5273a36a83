"""Image fitting (the paper's 2D experiments): (row, col) in [-1, 1]^2 -> C channel values."""
import os

from components.metrics import image_metrics
from trainer.base_trainer import BaseTrainer, Signal
from util.io import IMAGE_EXTS, read_image, sample_name, save_image
from util.tensorboard import colormap


class ImageTrainer(BaseTrainer):
    exts = IMAGE_EXTS

    def read(self, path):
        data, nominal = read_image(path)
        return Signal(sample_name(path), data, nominal)

    def evaluate(self, recon, data, signal):
        return image_metrics(recon, data, signal.nominal.span, self.lpips)

    def save_prediction(self, signal, recon):
        save_image(os.path.join(self.folder, "final_pred", f"{signal.name}.png"), recon, signal.nominal)

    def log_target(self, signal, data):
        self.writer.add_image(f"{signal.name}/target", signal.nominal.unit(data), 0)

    def log_media(self, signal, epoch, recon, data):
        rng = signal.nominal.span
        self.writer.add_image(f"{signal.name}/reconstruction", signal.nominal.unit(recon), epoch)
        err = (recon - data).abs().mean(0).cpu() / rng
        scale = max(float(err.max()), 1e-12)
        self.writer.add_image(f"{signal.name}/abs_error (max {scale * rng:.3g})", colormap(err / scale), epoch)

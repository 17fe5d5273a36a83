"""Modality trainers, by --signal_type (imported on demand: audio and video pull in extra packages)."""
from util.errors import OptionError

SIGNAL_TYPES = ("image", "audio", "video")


def trainer_class(signal_type):
    if signal_type == "image":
        from trainer.img_trainer import ImageTrainer
        return ImageTrainer
    if signal_type == "audio":
        from trainer.audio_trainer import AudioTrainer
        return AudioTrainer
    if signal_type == "video":
        from trainer.video_trainer import VideoTrainer
        return VideoTrainer
    raise OptionError(f"unknown signal type '{signal_type}' (valid: {', '.join(SIGNAL_TYPES)})")

"""Training: the catalogue (settings, optimisers, schedules, losses, metrics, statistics,
events), the loop, callbacks, monitoring and checkpoints."""
from .callbacks import Callback, JsonLinesWriter, ProgressPrinter
from .config import DEFAULTS, TrainingConfig, parse_training
from .trainer import Trainer, load_checkpoint, pick_device

__all__ = ["Callback", "JsonLinesWriter", "ProgressPrinter", "DEFAULTS", "TrainingConfig",
           "parse_training", "Trainer", "load_checkpoint", "pick_device"]

"""Training: the loop (mini-batches, checkpoints, resume), the methods that turn a batch into
a loss, and batched evaluation."""

from refimpl.training.checkpoint import load_checkpoint, save_checkpoint
from refimpl.training.loop import FitResult, NonFiniteLossError, epoch_seed, fit
from refimpl.training.methods import METHODS, Method, get_method, normal
from refimpl.training.metrics import evaluate, predict_logits

__all__ = ["fit", "FitResult", "NonFiniteLossError", "epoch_seed", "save_checkpoint",
           "load_checkpoint", "METHODS", "Method", "get_method", "normal", "evaluate", "predict_logits"]

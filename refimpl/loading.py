"""From a checkpoint to a model: :func:`load_model`.

A checkpoint written by ``refimpl train`` or ``refimpl reproduce`` records the model's name,
input shape and number of classes; the parameters are rebuilt in the array library asked for,
in the dtype they were trained in, and checked against the model before use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, NamedTuple

Array = Any

__all__ = ["LoadedModel", "load_model"]


class LoadedModel(NamedTuple):
    """What :func:`load_model` returns.

    Attributes:
        model: the :class:`refimpl.nn.Model`; params: its parameter dict (arrays of ``xp``);
        meta: the checkpoint's metadata (dataset, preprocess, epochs, history, ...);
        logits_fn: x (N, ...) -> logits (N, K) with the parameters held fixed, eval mode.
    """

    model: Any
    params: dict
    meta: dict
    logits_fn: Callable[[Array], Array]

    @property
    def dataset(self) -> str | None:
        """The data set the model was trained on (as recorded by train or reproduce)."""
        return self.meta.get("dataset") or (self.meta.get("data") or {}).get("dataset")

    @property
    def preprocess(self) -> str:
        return (self.meta.get("preprocess") or (self.meta.get("data") or {}).get("preprocess")
                or "none")


def load_model(path, *, xp: Any = None) -> LoadedModel:
    """Load a checkpoint written by ``refimpl train`` or ``refimpl reproduce``.

    Args:
        path: the ``checkpoint.npz`` (or the run folder that holds it).
        xp: the array namespace of the parameters (NumPy when omitted).

    Returns:
        :class:`LoadedModel` ``(model, params, meta, logits_fn)``.

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        ValueError: naming the file when it does not say which model it holds, or when its
            parameters do not fit that model (names or shapes).
    """
    from refimpl import nn  # noqa: PLC0415  (keeps `import refimpl` light)
    from refimpl.training.checkpoint import load_checkpoint  # noqa: PLC0415
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.npz"
    params, _, meta = load_checkpoint(path, xp)
    name = meta.get("model") or (meta.get("run") or {}).get("model")
    if not name or "input_shape" not in meta or "num_classes" not in meta:
        raise ValueError(f"checkpoint {path}: its metadata does not name the model, input shape "
                         f"and classes (written by fit() without them?); rebuild the model with "
                         f"refimpl.nn.build and use load_checkpoint")
    model = nn.build(name, tuple(meta["input_shape"]), int(meta["num_classes"]))
    _check_params(path, model, params)
    frozen = dict(params)
    return LoadedModel(model, params, meta, lambda z: model.apply(frozen, z))


def _check_params(path: Path, model, params: dict) -> None:
    """Raise a ValueError naming ``path`` unless params have the model's names and shapes."""
    from refimpl.backend import make_rng  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415
    expected = {k: tuple(v.shape) for k, v in model.init(make_rng(0, np), np.float32).items()}
    found = {k: tuple(v.shape) for k, v in params.items()}
    if expected != found:
        wrong = sorted(set(expected) ^ set(found)) or sorted(
            k for k in expected if expected[k] != found[k])
        raise ValueError(f"checkpoint {path}: its parameters do not fit model "
                         f"{model.name!r} (first differences: {wrong[:3]}); the checkpoint "
                         f"was made for another model")

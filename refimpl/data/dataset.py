"""The :class:`Dataset` container every loader returns, and the cache folder ``data_dir()``."""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Dataset", "data_dir"]


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == has no single truth value
class Dataset:
    """A labelled image data set split into training and test parts, as NumPy arrays.

    Data stay NumPy here; a program that trains on another backend converts them once, at
    the edge (``xp.asarray(ds.x_train)``).

    Attributes:
        name: the data set's name, e.g. ``"mnist"``.
        x_train: images, float32 ``(N_train, C, H, W)``.
        y_train: labels, int64 ``(N_train,)`` in ``0 .. num_classes - 1``.
        x_test: images, float32 ``(N_test, C, H, W)``.
        y_test: labels, int64 ``(N_test,)``.
        num_classes: the number of classes K.
        info: what a user should know: ``source``, ``scaling`` (value range and how it was
            obtained), ``split`` and so on.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) \
                or self.num_classes < 1:
            raise ValueError(f"Dataset {self.name!r}: num_classes must be a positive int, got "
                             f"{self.num_classes!r}")
        for part in ("train", "test"):
            x, y = getattr(self, "x_" + part), getattr(self, "y_" + part)
            if not (isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 4):
                raise TypeError(f"Dataset {self.name!r}: x_{part} must be a float32 NumPy array "
                                f"(N, C, H, W), got {type(x).__name__} {getattr(x, 'dtype', '')} "
                                f"shape {getattr(x, 'shape', '')}")
            if not (isinstance(y, np.ndarray) and y.dtype == np.int64 and y.shape == x.shape[:1]):
                found = f"{getattr(y, 'dtype', type(y).__name__)} shape {getattr(y, 'shape', '')}"
                raise TypeError(f"Dataset {self.name!r}: y_{part} must be an int64 NumPy array "
                                f"shaped ({x.shape[0]},), got {found}")
            if y.size and (y.min() < 0 or y.max() >= self.num_classes):
                raise ValueError(f"Dataset {self.name!r}: y_{part} holds labels {y.min()}.."
                                 f"{y.max()}, expected 0..{self.num_classes - 1}")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(f"Dataset {self.name!r}: training images {self.x_train.shape[1:]} and "
                             f"test images {self.x_test.shape[1:]} differ in shape")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """The shape of one image, ``(C, H, W)``."""
        return tuple(self.x_train.shape[1:])

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, train={self.x_train.shape[0]}, "
                f"test={self.x_test.shape[0]}, input_shape={self.input_shape}, "
                f"num_classes={self.num_classes})")


def data_dir() -> pathlib.Path:
    """The folder where data sets are cached: ``$REFIMPL_DATA``, else ``~/.cache/refimpl``.

    Each data set lives in a subfolder named after it (``data_dir() / "mnist"``).
    """
    return pathlib.Path(os.environ.get("REFIMPL_DATA") or "~/.cache/refimpl").expanduser()

"""scikit-learn's bundled 8x8 digits: the data set that needs no download.

1797 grey images of handwritten digits, 8x8 pixels with integer values 0..16 (each pixel counts
the set pixels of a 4x4 block of a 32x32 bitmap), from the UCI "Optical Recognition of
Handwritten Digits" set. They ship inside scikit-learn, so tests and tutorials can train a
real classifier anywhere in seconds.
"""

from __future__ import annotations

import numpy as np

from refimpl.data.dataset import Dataset

__all__ = ["load_digits", "split_indices", "TEST_SIZE", "SPLIT_SEED"]

TEST_SIZE = 360  # 20 % of 1797; leaves 1437 for training
SPLIT_SEED = 0


def split_indices(y: np.ndarray, test_size: int = TEST_SIZE, seed: int = SPLIT_SEED):
    """Sorted (train, test) indices of a stratified split of the labels ``y``.

    Uses scikit-learn's ``train_test_split(..., stratify=y, random_state=seed)``, which draws
    from NumPy's legacy ``RandomState`` (a stream fixed across platforms and versions), so the
    split is the same on every machine. Each class goes to the test set in proportion to its
    size, within one example.
    """
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 (heavy; on demand)

    train, test = train_test_split(np.arange(y.shape[0]), test_size=test_size, stratify=y,
                                   random_state=seed)
    return np.sort(train), np.sort(test)


def load_digits() -> Dataset:
    """The 8x8 digits with a fixed stratified split of 1437 training and 360 test images.

    Returns:
        A :class:`Dataset` with images float32 ``(N, 1, 8, 8)`` = value / 16 in [0, 1], labels
        int64 in 0..9, in the original order within each part.
    """
    from sklearn.datasets import load_digits as sklearn_digits  # noqa: PLC0415

    bunch = sklearn_digits()
    x = (bunch.data.astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    train, test = split_indices(y)
    info = {"source": "sklearn.datasets.load_digits (UCI optical recognition of handwritten "
                      "digits), bundled with scikit-learn",
            "scaling": "value / 16, float32 in [0, 1] (raw values are 0..16)",
            "split": f"stratified, {len(train)} train / {len(test)} test, "
                     f"sklearn train_test_split(random_state={SPLIT_SEED})"}
    return Dataset("digits", x[train], y[train], x[test], y[test], 10, info)

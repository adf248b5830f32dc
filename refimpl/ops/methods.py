"""Python's operators and NumPy's array methods on traced values, each the op of the same name.

``x @ w + b`` on boxes records exactly what ``add(matmul(x, w), b)`` does, and code written for
NumPy arrays (``x.T``, ``x.sum(axis=1)``, ``x.reshape(3, -1)``, ``x.flatten()``) runs on traced
values unchanged. Methods keep NumPy's meaning: ``.flatten()`` gives one axis (unlike
``ops.flatten``, which keeps the batch axis) and ``.T`` reverses all axes.
"""

from __future__ import annotations

from refimpl.tracer import Tensor

from . import (arithmetic, contractions, elementwise, indexing, linalg, reductions, shape,
               statistics)


def __add__(self, other):
    return arithmetic.add(self, other)


def __radd__(self, other):
    return arithmetic.add(other, self)


def __sub__(self, other):
    return arithmetic.subtract(self, other)


def __rsub__(self, other):
    return arithmetic.subtract(other, self)


def __mul__(self, other):
    return arithmetic.multiply(self, other)


def __rmul__(self, other):
    return arithmetic.multiply(other, self)


def __truediv__(self, other):
    return arithmetic.divide(self, other)


def __rtruediv__(self, other):
    return arithmetic.divide(other, self)


def __pow__(self, other):
    return elementwise.power(self, other)


def __rpow__(self, other):
    return elementwise.power(other, self)


def __matmul__(self, other):
    return linalg.matmul(self, other)


def __rmatmul__(self, other):
    return linalg.matmul(other, self)


def __neg__(self):
    return arithmetic.negative(self)


def __pos__(self):
    return self


def __abs__(self):
    return elementwise.abs(self)


def T(self):  # noqa: N802  (NumPy's name)
    """All axes reversed (the matrix transpose for 2-D)."""
    return shape.transpose(self)


def reshape(self, *new_shape):
    """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``."""
    if len(new_shape) == 1 and not isinstance(new_shape[0], int):
        new_shape = tuple(new_shape[0])
    return shape.reshape(self, shape=new_shape)


def flatten(self):
    """NumPy's flatten: one axis of all the entries (``ops.flatten`` keeps the batch axis)."""
    return shape.reshape(self, shape=(-1,))


def squeeze(self, axis=None):
    return shape.squeeze(self, axis)


def astype(self, dtype):
    return arithmetic.astype(self, dtype)


def sum(self, axis=None, keepdims=False):  # noqa: A001
    return reductions.sum(self, axis=axis, keepdims=keepdims)


def mean(self, axis=None, keepdims=False):
    return reductions.mean(self, axis=axis, keepdims=keepdims)


def max(self, axis=None, keepdims=False):  # noqa: A001
    return reductions.max(self, axis=axis, keepdims=keepdims)


def min(self, axis=None, keepdims=False):  # noqa: A001
    return reductions.min(self, axis=axis, keepdims=keepdims)


def prod(self, axis=None, keepdims=False):
    return statistics.prod(self, axis, keepdims=keepdims)


def var(self, axis=None, ddof=0, keepdims=False):
    return statistics.var(self, axis, correction=ddof, keepdims=keepdims)


def std(self, axis=None, ddof=0, keepdims=False):
    return statistics.std(self, axis, correction=ddof, keepdims=keepdims)


def dot(self, other):
    return contractions.dot(self, other)


for _method in (__add__, __radd__, __sub__, __rsub__, __mul__, __rmul__, __truediv__,
                __rtruediv__, __pow__, __rpow__, __matmul__, __rmatmul__, __neg__, __pos__,
                __abs__, reshape, flatten, squeeze, astype, sum, mean, max, min, prod, var, std,
                dot):
    setattr(Tensor, _method.__name__, _method)
Tensor.T = property(T)
Tensor.mT = property(shape.matrix_transpose)
Tensor.__getitem__ = indexing.getitem

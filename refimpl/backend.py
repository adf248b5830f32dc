"""The only module that knows which array library is underneath.

Library code never imports NumPy or CuPy to compute: it asks for the namespace of its input
arrays (``xp = get_namespace(x)``) and calls array-API-standard functions on it. This module
adds what the standard leaves out: conversion to NumPy at the edges, a seeded random generator
that works for NumPy, CuPy and array-api-strict alike, and a few dtype helpers.

There is no global backend switch. CuPy is imported only when a CuPy array or an explicit
``"cupy"`` request reaches this module, so ``import refimpl`` stays light.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

Array = Any

__all__ = [
    "Array", "Random", "get_namespace", "check_one_library", "namespace_by_name", "to_numpy", "asarray",
    "is_floating", "default_float", "check_floating", "make_rng", "sliding_window_view",
    "kth_largest",
]


_PYTHON_SCALARS = (bool, int, float, complex)  # exact types: NumPy's float64 subclasses float


def get_namespace(*arrays, name: str = "arrays") -> Any:
    """The array-API namespace shared by ``arrays``; Python scalars and ``None`` are ignored.

    Raises:
        TypeError: naming ``name`` when the arrays come from two different libraries.
    """
    if _COMPAT_NUMPY is not None and arrays and type(arrays[0]) is np.ndarray and all(
            type(a) is np.ndarray or a is None or type(a) in _PYTHON_SCALARS for a in arrays[1:]):
        return np  # the common case, without array-api-compat's dispatch (~45 calls a step)
    found = [a for a in arrays if a is not None and type(a) not in _PYTHON_SCALARS]
    if not found:
        raise TypeError(f"{name}: expected at least one array, got only Python scalars or None")
    try:
        xp = array_api_compat.array_namespace(*found)
    except TypeError as err:
        kinds = sorted({type(a).__module__ + "." + type(a).__name__ for a in found})
        raise TypeError(
            f"{name}: expected arrays of one array library, got a mix of {kinds}; "
            "convert them to one namespace first (e.g. xp.asarray)") from err
    return np if xp is _COMPAT_NUMPY else xp


# NumPy 2 implements the array API itself; its compat wrapper only adds call overhead (a
# wrapped matmul was measured 30 % slower), so NumPy arrays get the numpy module directly.
_COMPAT_NUMPY = (array_api_compat.array_namespace(np.empty(0))
                 if np.lib.NumpyVersion(np.__version__) >= "2.1.0" else None)


def check_one_library(*arrays, name: str) -> None:
    """Raise a TypeError naming ``name`` if ``arrays`` come from two array libraries.

    (NumPy would otherwise quietly convert an array-api-strict operand, for instance.)
    """
    if sum(a is not None and type(a) not in _PYTHON_SCALARS for a in arrays) > 1:
        get_namespace(*arrays, name=name)


def namespace_by_name(name: str) -> Any:
    """The namespace for ``"numpy"``, ``"cupy"`` or ``"array_api_strict"``."""
    if name == "numpy":
        return get_namespace(np.empty(0))
    if name == "cupy":
        import cupy  # noqa: PLC0415  (optional dependency, imported on request only)
        return array_api_compat.array_namespace(cupy.empty(0))
    if name == "array_api_strict":
        import array_api_strict  # noqa: PLC0415
        return array_api_strict
    raise ValueError(f"backend: expected 'numpy', 'cupy' or 'array_api_strict', got {name!r}")


def to_numpy(x: Array) -> np.ndarray:
    """A NumPy copy (or view) of any array-API array, e.g. for printing, saving or plotting."""
    if isinstance(x, np.ndarray | np.generic):
        return np.asarray(x)
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if isinstance(x, (bool, int, float)):
        return np.asarray(x)
    return np.from_dlpack(x)  # array-api-strict and other DLPack producers (CPU)


def asarray(x: Any, *, like: Array | None = None, xp: Any = None, dtype: Any = None) -> Array:
    """``x`` (NumPy data, lists, scalars) as an array of ``xp`` or of the namespace of ``like``."""
    if xp is None:
        xp = get_namespace(like) if like is not None else namespace_by_name("numpy")
    if dtype is None and like is not None:
        dtype = like.dtype
    return xp.asarray(x, dtype=dtype)


def is_floating(x: Array) -> bool:
    """True for a real floating dtype (float32 or float64)."""
    xp = get_namespace(x)
    return xp.isdtype(x.dtype, "real floating")


def default_float(xp: Any) -> Any:
    """float32: the working precision for training (float64 is for gradient checks)."""
    return xp.float32


def check_floating(x: Array, name: str) -> None:
    """Raise a TypeError naming ``name`` unless ``x`` is a real floating array."""
    if not is_floating(x):
        raise TypeError(f"{name}: expected a floating array (float32 or float64), got dtype {x.dtype}")


class Random:
    """A seeded random generator that draws directly in the namespace ``xp``.

    NumPy and array-api-strict draw from ``numpy.random.Generator`` (array-api-strict arrays
    are converted from it); CuPy draws on the device with ``cupy.random.Generator`` so no
    host-device copy is made per draw.

    Args:
        seed: an int seed (or ``None`` for fresh entropy).
        xp: the namespace arrays are drawn in.
    """

    def __init__(self, seed: int | None, xp: Any):
        self.xp = xp
        self._on_cupy = xp.__name__.startswith(("cupy", "array_api_compat.cupy"))
        if self._on_cupy:
            import cupy  # noqa: PLC0415
            self._gen = cupy.random.default_rng(seed)
        else:
            self._gen = np.random.default_rng(seed)

    def _wrap(self, a, dtype):
        if self._on_cupy:
            return a.astype(dtype, copy=False)
        return self.xp.asarray(np.asarray(a), dtype=dtype)

    def normal(self, shape, *, dtype=None, loc=0.0, scale=1.0) -> Array:
        """Samples of N(loc, scale^2)."""
        dtype = dtype or default_float(self.xp)
        if self._on_cupy:  # CuPy's Generator documents standard_normal in every version
            return loc + scale * self._gen.standard_normal(size=shape, dtype=dtype)
        return self._wrap(self._gen.normal(loc, scale, size=shape), dtype)

    def uniform(self, shape, *, low=0.0, high=1.0, dtype=None) -> Array:
        """Samples of U[low, high)."""
        dtype = dtype or default_float(self.xp)
        if self._on_cupy:
            return low + (high - low) * self._gen.random(size=shape, dtype=dtype)
        return self._wrap(self._gen.uniform(low, high, size=shape), dtype)

    def integers(self, low: int, high: int, shape) -> Array:
        """Integers drawn uniformly from [low, high), as int64."""
        return self._wrap(self._gen.integers(low, high, size=shape), self.xp.int64)

    def permutation(self, n: int) -> Array:
        """A random permutation of 0..n-1, as int64."""
        return self._wrap(self._gen.permutation(n), self.xp.int64)

    def state(self) -> dict:
        """The generator's state as a JSON-friendly dict (NumPy generators only)."""
        if self._on_cupy:
            raise NotImplementedError("saving the state of a CuPy generator is not supported")
        return self._gen.bit_generator.state

    def set_state(self, state: dict) -> None:
        """Restore a state returned by :meth:`state`."""
        if self._on_cupy:
            raise NotImplementedError("restoring the state of a CuPy generator is not supported")
        self._gen.bit_generator.state = state


def make_rng(seed: int | None, xp: Any = None) -> Random:
    """A :class:`Random` drawing in ``xp`` (NumPy when omitted)."""
    return Random(seed, xp if xp is not None else namespace_by_name("numpy"))


def sliding_window_view(x: Array, window_shape, *, axis) -> Array | None:
    """A read-only strided view of every ``window_shape`` window of ``x`` over ``axis``, or None.

    The windows' axes are appended after the others, as in
    ``numpy.lib.stride_tricks.sliding_window_view`` (CuPy has the same function). The array API
    has no strided views, so other libraries get ``None`` and callers use standard operations.
    """
    if isinstance(x, np.ndarray):
        return np.lib.stride_tricks.sliding_window_view(x, window_shape, axis=axis)
    if array_api_compat.is_cupy_array(x):
        import cupy  # noqa: PLC0415
        return cupy.lib.stride_tricks.sliding_window_view(x, window_shape, axis=axis)
    return None


def kth_largest(a: Array, k: int) -> Array:
    """(N, D) -> (N, 1): the k-th largest entry of each row (k in 1..D).

    A selection (``partition``, linear time) where the library has one (NumPy, CuPy); a full
    sort elsewhere, which the array API standard offers. Both give the same value.
    """
    d = a.shape[1]
    if isinstance(a, np.ndarray):
        return np.partition(a, d - k, axis=1)[:, d - k:d - k + 1]
    if array_api_compat.is_cupy_array(a):
        import cupy  # noqa: PLC0415
        return cupy.partition(a, d - k, axis=1)[:, d - k:d - k + 1]
    return get_namespace(a).sort(a, axis=1)[:, d - k:d - k + 1]

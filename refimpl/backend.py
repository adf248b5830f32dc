"""The only module that knows which array library is underneath.

Library code never imports NumPy or CuPy to compute: it asks for the namespace of its input
arrays (``xp = get_namespace(x)``) and calls array-API-standard functions on it. This module
adds what the standard leaves out: the device of an array, conversion to NumPy at the edges, a
seeded random generator that draws on a chosen device for NumPy, CuPy, PyTorch and
array-api-strict alike, and a few dtype helpers.

There is no global backend switch and no default device: an array made from others goes on
their device (``device=device_of(x)``). CuPy and PyTorch are imported only when one of their
arrays or an explicit ``"cupy"`` / ``"torch"`` request reaches this module, so
``import refimpl`` stays light.
"""

from __future__ import annotations

from typing import Any

import array_api_compat
import numpy as np

Array = Any

__all__ = [
    "Array", "Random", "get_namespace", "check_one_library", "namespace_by_name", "to_numpy", "asarray",
    "device_of", "compute_device", "dtype_is", "is_floating", "default_float", "check_floating",
    "make_rng",
    "cupy_problem", "BACKENDS", "BackendUnavailableError", "sliding_window_view", "kth_largest",
]

BACKENDS = ("numpy", "cupy", "torch", "array_api_strict")


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


class BackendUnavailableError(RuntimeError):
    """An array library that was asked for is not installed, or finds no usable device."""


def namespace_by_name(name: str) -> Any:
    """The namespace for ``"numpy"``, ``"cupy"``, ``"torch"`` or ``"array_api_strict"``.

    Raises:
        ValueError: for another name.
        BackendUnavailableError (a RuntimeError): in one line, when CuPy or PyTorch is missing,
            or CuPy finds no usable GPU.
    """
    if name == "numpy":
        return get_namespace(np.empty(0))
    if name == "cupy":
        problem = cupy_problem()
        if problem:
            raise BackendUnavailableError(f"backend cupy: {problem}")
        import cupy  # noqa: PLC0415  (optional dependency, imported on request only)
        return array_api_compat.array_namespace(cupy.empty(0))
    if name == "torch":
        try:
            import torch  # noqa: PLC0415  (optional dependency, imported on request only)
        except ImportError as err:
            raise BackendUnavailableError(f"backend torch: PyTorch is not installed ({err}); "
                                          "pip install torch") from None
        return array_api_compat.array_namespace(torch.empty(0))
    if name == "array_api_strict":
        import array_api_strict  # noqa: PLC0415
        return array_api_strict
    raise ValueError(f"backend: expected one of {', '.join(map(repr, BACKENDS))}, got {name!r}")


def cupy_problem() -> str | None:
    """Why CuPy cannot compute here, in one line, or ``None`` when it can.

    Counting devices is not enough: with a driver but without the CUDA libraries CuPy loads at
    run time (NVRTC, cuBLAS, cuRAND; ``pip install refimpl[gpu]`` brings them) every kernel
    fails. So this runs an elementwise kernel, a matrix product and a random draw.
    """
    try:
        import cupy  # noqa: PLC0415
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "CuPy is installed but sees no GPU"
        a = cupy.arange(6, dtype=cupy.float32).reshape(2, 3)
        b = (a * 2 + 1) @ a.T  # an elementwise kernel (NVRTC) and a matmul (cuBLAS)
        u = cupy.random.default_rng(0).random(4, dtype=cupy.float32)  # cuRAND
        float(b.sum() + u.sum())  # noqa: the probe waits for the device on purpose
        return None
    except Exception as err:  # ImportError, CUDA driver / library errors  # noqa: BLE001
        first_line = (str(err).strip().splitlines() or [""])[0]
        return f"CuPy unavailable ({type(err).__name__}: {first_line})"


def device_of(x: Array) -> Any:
    """The device ``x`` lives on (``array_api_compat.device``); ``None`` for Python scalars.

    Pass it on: ``xp.zeros(shape, dtype=x.dtype, device=device_of(x))``.
    """
    if x is None or type(x) in _PYTHON_SCALARS:
        return None
    return array_api_compat.device(x)


def compute_device(xp: Any) -> Any:
    """The device a command computes on with ``xp``: a CUDA GPU for PyTorch when one answers
    (torch's own default is the CPU), otherwise ``xp``'s default (``None``)."""
    if array_api_compat.is_torch_namespace(xp):
        import torch  # noqa: PLC0415
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    return None


def to_numpy(x: Array) -> np.ndarray:
    """A NumPy copy (or view) of any array-API array, e.g. for printing, saving or plotting.

    This is the one explicit device-to-host transfer; library code calls it only at the edges
    (never inside a training step).
    """
    if isinstance(x, np.ndarray | np.generic):
        return np.asarray(x)
    if isinstance(x, (bool, int, float)):
        return np.asarray(x)
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_torch_array(x):
        return x.detach().cpu().numpy()
    if array_api_compat.is_array_api_strict_namespace(array_api_compat.array_namespace(x)):
        import array_api_strict  # noqa: PLC0415
        x = x.to_device(array_api_strict.Device())  # other "devices" refuse the host copy
    return np.from_dlpack(x)  # array-api-strict and other DLPack producers (CPU)


def asarray(x: Any, *, like: Array | None = None, xp: Any = None, dtype: Any = None,
            device: Any = None) -> Array:
    """``x`` (NumPy data, lists, scalars) as an array of ``xp`` or of the namespace of ``like``,
    on ``device`` (default: the device of ``like``, else the namespace's default device)."""
    if xp is None:
        xp = get_namespace(like) if like is not None else namespace_by_name("numpy")
    if dtype is None and like is not None:
        dtype = like.dtype
    if device is None and like is not None:
        device = device_of(like)
    return xp.asarray(x, dtype=dtype, device=device)


_DTYPE_KINDS: dict = {}  # (namespace, dtype, kind) -> bool


def dtype_is(xp: Any, dtype: Any, kind: str) -> bool:
    """``xp.isdtype(dtype, kind)``, remembered per namespace, dtype and kind.

    NumPy's ``isdtype`` is Python code (about 2 microseconds a call), and a training step
    asks it the same few questions each time (boxing each parameter, checking the labels).
    """
    key = (xp, dtype, kind)
    known = _DTYPE_KINDS.get(key)
    if known is None:
        known = _DTYPE_KINDS[key] = bool(xp.isdtype(dtype, kind))
    return known


def is_floating(x: Array) -> bool:
    """True for a real floating dtype (float32 or float64)."""
    return dtype_is(get_namespace(x), x.dtype, "real floating")


def default_float(xp: Any) -> Any:
    """float32: the working precision for training (float64 is for gradient checks)."""
    return xp.float32


def check_floating(x: Array, name: str) -> None:
    """Raise a TypeError naming ``name`` unless ``x`` is a real floating array."""
    if not is_floating(x):
        raise TypeError(f"{name}: expected a floating array (float32 or float64), got dtype {x.dtype}")


class Random:
    """A seeded random generator whose every draw lands on one device of the namespace ``xp``.

    Where the arrays live in host memory (NumPy, array-api-strict, PyTorch on the CPU) the draws
    come from ``numpy.random.Generator`` and are handed to ``xp`` on ``device``: one seed gives
    the same numbers on all of them, and :meth:`state` / :meth:`set_state` restore a stream
    bitwise. On an accelerator (CuPy, PyTorch on CUDA) the library's own generator draws on the
    device, so no draw crosses the bus.

    Args:
        seed: an int seed (or ``None`` for fresh entropy).
        xp: the namespace arrays are drawn in.
        device: where the draws go (default: ``xp``'s current default device).
    """

    def __init__(self, seed: int | None, xp: Any, device: Any = None):
        self.xp, self.device = xp, device
        self._kind = "numpy"
        if array_api_compat.is_cupy_namespace(xp):
            import cupy  # noqa: PLC0415
            self._kind, self._device_context = "cupy", (device or cupy.cuda.Device())
            with self._device_context:
                self._gen = cupy.random.default_rng(seed)
            return
        if array_api_compat.is_torch_namespace(xp):
            import torch  # noqa: PLC0415
            self.device = torch.device(device) if device is not None else torch.get_default_device()
            if self.device.type != "cpu":
                self._kind, self._gen = "torch", torch.Generator(device=self.device)
                if seed is None:
                    self._gen.seed()
                else:
                    self._gen.manual_seed(seed)
                return
        self._gen = np.random.default_rng(seed)

    def _host(self, a, dtype) -> Array:
        return self.xp.asarray(np.asarray(a), dtype=dtype, device=self.device)

    def _torch(self, name: str, *args, **kwargs) -> Array:
        import torch  # noqa: PLC0415
        return getattr(torch, name)(*args, generator=self._gen, device=self.device, **kwargs)

    def normal(self, shape, *, dtype=None, loc=0.0, scale=1.0) -> Array:
        """Samples of N(loc, scale^2)."""
        dtype = dtype or default_float(self.xp)
        if self._kind == "cupy":  # CuPy's Generator documents standard_normal in every version
            with self._device_context:
                return loc + scale * self._gen.standard_normal(size=shape, dtype=dtype)
        if self._kind == "torch":
            return loc + scale * self._torch("randn", tuple(shape), dtype=dtype)
        return self._host(self._gen.normal(loc, scale, size=shape), dtype)

    def uniform(self, shape, *, low=0.0, high=1.0, dtype=None) -> Array:
        """Samples of U[low, high)."""
        dtype = dtype or default_float(self.xp)
        if self._kind == "cupy":
            with self._device_context:
                return low + (high - low) * self._gen.random(size=shape, dtype=dtype)
        if self._kind == "torch":
            return low + (high - low) * self._torch("rand", tuple(shape), dtype=dtype)
        return self._host(self._gen.uniform(low, high, size=shape), dtype)

    def integers(self, low: int, high: int, shape) -> Array:
        """Integers drawn uniformly from [low, high), as int64."""
        if self._kind == "cupy":
            with self._device_context:
                return self._gen.integers(low, high, size=shape, dtype=self.xp.int64)
        if self._kind == "torch":
            return self._torch("randint", low, high, tuple(shape), dtype=self.xp.int64)
        return self._host(self._gen.integers(low, high, size=shape), self.xp.int64)

    def permutation(self, n: int) -> Array:
        """A random permutation of 0..n-1, as int64.

        On the host, NumPy's ``permutation``. CuPy's Generator has none, so there it is the
        argsort of n uniform float64 draws: i.i.d. continuous keys make every order equally
        likely (a tie, of probability about n^2 / 2^54, only fixes the order of two entries),
        and the permutation is made on the device, with no host copy.
        """
        if self._kind == "cupy":
            return self.xp.argsort(self.uniform((n,), dtype=self.xp.float64))
        if self._kind == "torch":
            return self._torch("randperm", n, dtype=self.xp.int64)
        return self._host(self._gen.permutation(n), self.xp.int64)

    def state(self) -> dict:
        """The generator's state as a JSON-friendly dict (not for CuPy generators)."""
        if self._kind == "cupy":
            raise NotImplementedError("saving the state of a CuPy generator is not supported")
        if self._kind == "torch":
            return {"torch": self._gen.get_state().tolist()}
        return self._gen.bit_generator.state

    def set_state(self, state: dict) -> None:
        """Restore a state returned by :meth:`state`."""
        if self._kind == "cupy":
            raise NotImplementedError("restoring the state of a CuPy generator is not supported")
        if self._kind == "torch":
            import torch  # noqa: PLC0415
            self._gen.set_state(torch.tensor(state["torch"], dtype=torch.uint8))
            return
        self._gen.bit_generator.state = state


def make_rng(seed: int | None, xp: Any = None, *, device: Any = None) -> Random:
    """A :class:`Random` drawing in ``xp`` (NumPy when omitted) on ``device``.

    Pass the device of the data the draws will meet, ``make_rng(seed, xp, device=device_of(x))``;
    without it the draws go to ``xp``'s default device.
    """
    return Random(seed, xp if xp is not None else namespace_by_name("numpy"), device)


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


def owned_alone(arrays: list) -> list[bool]:
    """For each array: does it own a writable buffer that no other entry of ``arrays`` overlaps?

    Only NumPy arrays can say (``flags.owndata``, ``numpy.may_share_memory``, which compares
    bounds: conservative); any other library's array, whose aliasing the array API cannot
    show, is never owned alone. One array listed twice is not owned alone either.

    Two arrays that both own their buffers never overlap (each allocated its own), so only
    the entries that are views (they do not own theirs) are compared by bounds: a step's
    fresh gradients and parameters cost one identity count, not a pairwise check.
    """
    times_listed: dict[int, int] = {}
    for a in arrays:
        times_listed[id(a)] = times_listed.get(id(a), 0) + 1
    views = [b for b in arrays if isinstance(b, np.ndarray) and not b.flags.owndata]
    answers = []
    for a in arrays:
        ok = (isinstance(a, np.ndarray) and a.flags.owndata and a.flags.writeable
              and times_listed[id(a)] == 1)
        for b in views if ok else ():
            if np.may_share_memory(a, b):
                ok = False
                break
        answers.append(ok)
    return answers

"""Small helpers shared by the ops modules: namespace, shape and device of possibly boxed values,
and the conversion of Python and NumPy scalars into 0-d arrays."""

from __future__ import annotations

import math

import array_api_compat

from refimpl.backend import check_one_library, dtype_is, get_namespace, namespace_by_name
from refimpl.tracer import Tensor, getval

PYTHON_SCALARS = (bool, int, float)
_NUMPY_SCALAR = namespace_by_name("numpy").generic  # numpy.float64(1.0) and friends
_NAMESPACE_OF_TYPE: dict = {}  # array type -> namespace: one lookup per type, not per call


def xp_of(*xs, name: str = "arrays"):
    """The array namespace of possibly boxed arrays (Python scalars and ``None`` are ignored).

    Arrays of one type share a namespace, so it is looked up once per type (the lookup was a
    third of the time of a small training step); a mix of types gets the full check, which
    raises a TypeError naming ``name`` for two libraries.
    """
    kind = array = None
    for x in xs:
        x = getval(x)
        if x is None or type(x) in PYTHON_SCALARS:
            continue
        if kind is None:
            kind, array = type(x), x
        elif type(x) is not kind:
            return get_namespace(*(getval(v) for v in xs), name=name)
    xp = _NAMESPACE_OF_TYPE.get(kind)
    if xp is None:
        xp = _NAMESPACE_OF_TYPE[kind] = get_namespace(array, name=name)  # raises for no array
    return xp


def untraced(*xs) -> bool:
    """True when no argument is a box (:class:`~refimpl.tracer.Tensor`).

    A VJP whose inputs are all raw runs at first order: nothing it computes is recorded, so it
    may call the namespace directly instead of dispatching through primitives. Its result
    must be the one the primitive path gives, which stays for higher orders.
    """
    for x in xs:
        if type(x) is Tensor:
            return False
    return True


def times_mask(g, mask):
    """``g * mask`` for a raw float ``g`` and a boolean ``mask`` of its shape, in g's dtype.

    NumPy, CuPy and PyTorch multiply by a bool array directly, reading one byte per entry
    instead of a float mask's four; the array API standard defines no bool * float, so other
    libraries get the mask cast to g's dtype first. The values are the same either way
    (``-0.0`` where a negative entry of g is masked, NaN where g is NaN).
    """
    if _mixes_kinds(g):
        return g * mask
    xp = xp_of(g)
    return xp.multiply(g, xp.astype(mask, g.dtype))


def _mixes_kinds(a) -> bool:
    """True for the libraries whose arithmetic mixes kinds: bool or integer operands beside
    float ones (the array API standard leaves mixed-kind arithmetic undefined)."""
    return (array_api_compat.is_numpy_array(a) or array_api_compat.is_cupy_array(a)
            or array_api_compat.is_torch_array(a))


def times_mask_into(target, index, g, mask):
    """``target[index] = g * mask`` (``g`` and ``mask`` as in :func:`times_mask`).

    NumPy and CuPy write the product straight into the view ``target[index]``
    (``multiply(..., out=)``), with no temporary and no second pass to copy it; other
    libraries, whose views the standard leaves unspecified, assign :func:`times_mask`.
    """
    if array_api_compat.is_numpy_array(g) or array_api_compat.is_cupy_array(g):
        xp_of(g).multiply(g, mask, out=target[index])
    else:
        target[index] = times_mask(g, mask)


def count_masks(masks, dtype):
    """The number of ``masks`` (bool arrays of one shape) that hold at each entry, as an array
    a ``dtype`` array can be divided by.

    NumPy, CuPy and PyTorch count in int8 (int32 past 127 masks), adding each mask in place: a
    quarter of a float count's memory traffic, and a float array divided by it gives the same
    values in its own dtype (the counts are small integers, exact in every float type). Other
    libraries get the count in ``dtype``: the standard defines no float / int division.
    """
    xp = xp_of(masks[0])
    if not _mixes_kinds(masks[0]):
        count = xp.astype(masks[0], dtype)
        for mask in masks[1:]:
            count = count + xp.astype(mask, dtype)
        return count
    count = xp.astype(masks[0], xp.int8 if len(masks) < 128 else xp.int32)
    for mask in masks[1:]:
        count += mask
    return count


def one_library(x, y, name: str):
    """Raw operands ``(x, y)`` of a binary op, checked to come from one array library.

    A NumPy scalar beside another library's array becomes a Python number (as a Python float
    would be taken); two libraries raise a TypeError naming ``name``. Operands of one type
    (the common case) return at once.
    """
    if type(x) is type(y) or type(x) in PYTHON_SCALARS or type(y) in PYTHON_SCALARS:
        return x, y
    if isinstance(x, _NUMPY_SCALAR) and not array_api_compat.is_numpy_array(y):
        x = x.item()
    if isinstance(y, _NUMPY_SCALAR) and not array_api_compat.is_numpy_array(x):
        y = y.item()
    check_one_library(x, y, name=name)
    return x, y


def shape_of(x) -> tuple:
    """The shape of an array, a box, or ``()`` for a Python scalar."""
    return tuple(getattr(x, "shape", ()))


def size_of(x) -> int:
    """The number of elements (``x.size`` is a method on torch tensors, so never call that)."""
    return math.prod(shape_of(x))


def device_of(x):
    """The device of a possibly boxed array, for ``device=`` of every array made from it."""
    return array_api_compat.device(getval(x))


def is_scalar(x) -> bool:
    """True for Python numbers and NumPy scalars (``numpy.float64(1.0)``), not 0-d arrays."""
    return type(x) in PYTHON_SCALARS or isinstance(x, _NUMPY_SCALAR)


def as_array(x, like=None):
    """``x`` unchanged if it is an array or a box; a scalar as a 0-d array otherwise.

    The array is of the namespace, device and (floating) dtype of ``like`` when given, else a
    NumPy array of NumPy's dtype for the scalar (float64 for a Python float, as NumPy does).
    """
    if not is_scalar(x):
        return x
    if like is None:
        return namespace_by_name("numpy").asarray(x)
    raw = getval(like)
    xp = get_namespace(raw)
    dtype = raw.dtype if dtype_is(xp, raw.dtype, "real floating") else None
    if type(x) not in PYTHON_SCALARS:
        x = x.item()  # a NumPy scalar: host data already, so no device synchronisation
    return xp.asarray(x, dtype=dtype, device=array_api_compat.device(raw))


def array_and_namespace(x):
    """(x as an array, its namespace): the first line of every unary primitive."""
    if type(x) in PYTHON_SCALARS or isinstance(x, _NUMPY_SCALAR):
        x = as_array(x)
    return x, xp_of(x)

"""Nested arguments (dicts, lists and tuples of arrays) and the boxing of their leaves.

A *tree* is an array (or a Python or NumPy scalar, taken as a 0-d array), or a dict, list or
tuple of trees. Gradients come back in the structure of the argument they belong to.
"""

from __future__ import annotations

from refimpl import ops
from refimpl.backend import dtype_is, get_namespace
from refimpl.ops._util import as_array
from refimpl.tracer import Node, Tensor, getval

__all__ = ["leaves", "tree_map", "inner_product", "box", "unbox_like", "zeros_like"]


def _is_node(tree) -> bool:
    return isinstance(tree, (dict, list, tuple))


def _rebuild(tree, items):
    if isinstance(tree, dict):
        return dict(zip(tree.keys(), items))
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):  # a namedtuple
        return type(tree)(*items)
    return type(tree)(items)


def _children(tree):
    return list(tree.values()) if isinstance(tree, dict) else list(tree)


def leaves(tree) -> list:
    """The leaves of ``tree`` in order (dict insertion order, then list order)."""
    if not _is_node(tree):
        return [tree]
    return [leaf for child in _children(tree) for leaf in leaves(child)]


def tree_map(fn, tree, *others):
    """``fn`` applied leafwise to ``tree`` and trees of the same structure, in that structure."""
    if not _is_node(tree):
        return fn(tree, *others)
    rest = [_children(o) for o in others]
    return _rebuild(tree, [tree_map(fn, child, *(r[i] for r in rest))
                           for i, child in enumerate(_children(tree))])


def box(arg, trace: int, name: str, sources: list, path: tuple = ()):
    """``arg`` with every leaf boxed on ``trace``; the leaves' source nodes go to ``sources``.

    ``path`` holds the keys from ``arg`` down to the current leaf; it is written out (as
    ``name['weight']``) only for an error message.

    Raises:
        TypeError: naming the leaf (``argument 1 of f['weight']``) that is not a floating
            array or a Python float.
    """
    if _is_node(arg):
        keys = arg.keys() if isinstance(arg, dict) else range(len(arg))
        return _rebuild(arg, [box(child, trace, name, sources, path + (key,))
                              for child, key in zip(_children(arg), keys)])
    raw = as_array(getval(arg))
    if not hasattr(raw, "dtype"):
        raise TypeError(f"{_leaf_name(name, path)}: expected an array, a float, or a dict, list "
                        f"or tuple of them, got {type(arg).__name__}")
    if not dtype_is(get_namespace(raw), raw.dtype, "real floating"):
        raise TypeError(f"{_leaf_name(name, path)}: can only differentiate with respect to "
                        f"floating arrays (float32 or float64), got dtype {raw.dtype}")
    value = raw if type(arg) is not Tensor else arg  # a lower-trace box keeps its own trace
    source = Node(None, (), {}, value, (), ())
    sources.append(source)
    return Tensor(value, trace, source)


def _leaf_name(name: str, path: tuple) -> str:
    return name + "".join(f"[{key!r}]" for key in path)


def zeros_like(leaf):
    """Zeros of a leaf's shape, dtype and device (a scalar leaf becomes a 0-d array)."""
    raw = as_array(getval(leaf))
    return get_namespace(raw).zeros_like(raw)


def unbox_like(arg, grads: list):
    """Put the gradients of the leaves back into the structure of ``arg`` (zeros for ``None``)."""
    found = iter(grads)

    def one(leaf):
        g = next(found)
        return zeros_like(leaf) if g is None else g
    return tree_map(one, arg)


def inner_product(a_trees, b_trees):
    """sum over all leaves of <a, b> for two trees (or tuples of trees); differentiable."""
    total = 0.0
    for a, b in zip(leaves(a_trees), leaves(b_trees)):
        total = ops.add(total, ops.sum(ops.multiply(a, b)))
    return total

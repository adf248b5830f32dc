"""Tracing and reverse-mode accumulation: the whole autodiff engine on one screen.

A function is differentiated by calling it on :class:`Tensor` boxes instead of arrays. Every
:class:`primitive` that sees a box unwraps it, computes on the raw array and wraps the result
in a new box whose :class:`Node` remembers the primitive, its inputs and its output. The
backward pass walks those nodes from the output in reverse topological order and applies each
primitive's vector-Jacobian products (VJPs).

Higher-order derivatives need nothing extra. Each call of ``grad`` opens a new *trace*, a
number larger than those of every enclosing call, and a box belongs to one trace. A primitive
records only on the highest trace among its arguments and passes lower-trace boxes through to
the raw computation, where they are recorded on their own trace. Because VJPs are written with
the same primitives, a backward pass run on lower-trace boxes is itself recorded, and can be
differentiated again (``grad(grad(f))``, double backprop).

Only the paths from the boxed arguments to the output are recorded, so ``grad`` with respect
to an input never computes weight gradients (and vice versa). This module knows nothing of
particular operations: ``refimpl.ops`` defines the primitives and the operators of Tensor.
"""

from __future__ import annotations

import itertools
import math

from refimpl.backend import get_namespace

__all__ = ["Tensor", "Node", "primitive", "new_trace", "getval", "namespace_of", "backward"]

_trace_ids = itertools.count(1)  # trace numbers only grow, so inner traces outrank outer ones


def new_trace() -> int:
    """A fresh trace number, larger than every trace opened before."""
    return next(_trace_ids)


class Node:
    """One recorded primitive application: ``out = fun(*args, **kwargs)``.

    ``parents[i]`` is the node of ``args[argnums[i]]``; source nodes (the boxed inputs) have
    ``fun = None`` and no parents.
    """

    __slots__ = ("fun", "args", "kwargs", "out", "argnums", "parents")

    def __init__(self, fun, args, kwargs, out, argnums, parents):
        self.fun, self.args, self.kwargs, self.out = fun, args, kwargs, out
        self.argnums, self.parents = argnums, parents


class Tensor:
    """An array being traced: a raw ``value`` (array, or lower-trace Tensor) and its node.

    Tensors behave like arrays for shapes and arithmetic; comparisons act on the raw values
    and return plain boolean arrays (they have no derivative).
    """

    __slots__ = ("value", "trace", "node")
    __array_ufunc__ = None  # make NumPy defer ``ndarray * Tensor`` to ``Tensor.__rmul__``
    __array_priority__ = 1000.0  # the same for CuPy

    def __init__(self, value, trace: int, node: Node):
        self.value, self.trace, self.node = value, trace, node

    shape = property(lambda self: self.value.shape)
    ndim = property(lambda self: self.value.ndim)
    dtype = property(lambda self: self.value.dtype)
    size = property(lambda self: math.prod(self.shape))  # torch's .size is a method
    device = property(lambda self: getval(self).device)

    def __len__(self):
        if not self.shape:  # as NumPy: a 0-d value has no length (torch.as_tensor relies on it)
            raise TypeError("len() of a 0-d traced value")
        return self.shape[0]

    def __repr__(self):
        return f"Tensor(trace={self.trace}, {getval(self)!r})"

    def __bool__(self):
        return bool(getval(self))

    def __float__(self):
        return float(getval(self))

    def __array__(self, dtype=None, copy=None):  # NumPy code on a traced value: name the fix
        raise TypeError("a traced refimpl value cannot become a NumPy array: write the function "
                        "with refimpl.ops, or wrap outside code with refimpl.perturbations."
                        "external.external_model(logits_fn, input_gradient_fn)")

    __hash__ = object.__hash__  # boxes are dict keys by identity; == compares values

    def __eq__(self, other): return getval(self) == getval(other)  # noqa: E704
    def __ne__(self, other): return getval(self) != getval(other)  # noqa: E704
    def __lt__(self, other): return getval(self) < getval(other)  # noqa: E704
    def __le__(self, other): return getval(self) <= getval(other)  # noqa: E704
    def __gt__(self, other): return getval(self) > getval(other)  # noqa: E704
    def __ge__(self, other): return getval(self) >= getval(other)  # noqa: E704


def getval(x):
    """The raw array under any number of boxes (the value with every derivative stopped)."""
    while type(x) is Tensor:
        x = x.value
    return x


def namespace_of(*xs):
    """The array namespace of possibly boxed arrays."""
    return get_namespace(*(getval(x) for x in xs))


class primitive:
    """Make ``fun`` an operation the tracer records; its VJPs are given with :meth:`defvjp`.

    Positional arguments are the differentiable inputs; keyword arguments are static
    settings (axes, shapes, strides) passed unchanged to ``fun`` and to the VJPs.
    """

    def __init__(self, fun):
        self.fun = fun
        self.vjps: tuple = ()
        self.vjp_any = None
        self.__name__ = fun.__name__.lstrip("_")  # _matmul records as matmul
        self.__doc__ = fun.__doc__
        self.__wrapped__ = fun

    def defvjp(self, *vjps):
        """Set one VJP per positional argument, ``vjp(g, out, *args, **kwargs) -> grad_arg``.

        ``None`` marks an argument as not differentiable. Returns the first VJP, so that a
        single-argument primitive can use ``@prim.defvjp`` as a decorator.
        """
        self.vjps = vjps
        return vjps[0]

    def defvjp_argnum(self, vjp):
        """Set one VJP for every argument, ``vjp(argnum, g, out, *args, **kwargs)``."""
        self.vjp_any = vjp
        return vjp

    def vjp(self, argnum, g, out, args, kwargs):
        if self.vjp_any is not None:
            return self.vjp_any(argnum, g, out, *args, **kwargs)
        return self.vjps[argnum](g, out, *args, **kwargs)

    def __call__(self, *args, **kwargs):
        top = 0
        for a in args:
            if type(a) is Tensor and a.trace > top:
                top = a.trace
        if not top:
            return self.fun(*args, **kwargs)
        raw, argnums, parents = list(args), [], []
        for i, a in enumerate(args):
            if type(a) is Tensor and a.trace == top:
                if self.vjp_any is None and (i >= len(self.vjps) or self.vjps[i] is None):
                    self._refuse(i)
                raw[i] = a.value
                argnums.append(i)
                parents.append(a.node)
        for r in raw:
            if type(r) is Tensor:  # a box of a lower trace: record there too
                out = self(*raw, **kwargs)
                break
        else:
            out = self.fun(*raw, **kwargs)
        return Tensor(out, top, Node(self, raw, kwargs, out, argnums, parents))

    def _refuse(self, argnum):
        if not self.vjps:
            raise NotImplementedError(f"primitive {self.__name__} has no VJP (defvjp was never "
                                      "called), so it cannot be differentiated")
        raise TypeError(f"{self.__name__} is not differentiable with respect to its argument "
                        f"{argnum}")

    def __repr__(self):
        return f"<primitive {self.__name__}>"


def backward(out: Tensor, g, sources: list[Node]) -> list:
    """Reverse accumulation from ``out`` with cotangent ``g``; the gradient at each source.

    Gradients that reach a node along several paths are summed (a reused value, such as
    ``c`` in ``c = c + c * x``). Sources the output does not depend on get ``None``.
    """
    pending = {}  # node -> number of consumers whose gradient has not arrived yet
    stack = [out.node]
    while stack:
        node = stack.pop()
        if node in pending:
            pending[node] += 1
        else:
            pending[node] = 0
            stack.extend(node.parents)
    grads = {out.node: g}
    ready = [out.node]
    found = {}
    while ready:
        node = ready.pop()
        g_node = grads.pop(node)
        if node.fun is None:
            found[node] = g_node
            continue
        for argnum, parent in zip(node.argnums, node.parents):
            g_parent = node.fun.vjp(argnum, g_node, node.out, node.args, node.kwargs)
            previous = grads.get(parent)
            if previous is None:
                grads[parent] = g_parent
            elif type(g_parent) is Tensor:  # a traced summand goes first: raw arrays of
                grads[parent] = g_parent + previous  # some libraries refuse a Tensor operand
            else:
                grads[parent] = previous + g_parent
            if pending[parent] == 0:
                ready.append(parent)
            else:
                pending[parent] -= 1
    return [found.get(node) for node in sources]

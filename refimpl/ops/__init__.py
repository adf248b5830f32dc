"""Differentiable operations: the primitives (each with its VJP) and the functions built on them.

Every function here accepts raw arrays of any array-API library or traced
:class:`~refimpl.tracer.Tensor` values, and returns the same kind. Traced values also get
Python's operators (``+ - * / ** @``, unary ``-``, indexing and ``.T``-style helpers), each one
the primitive of the same name below, so ``x @ w + b`` records exactly what ``add(matmul(x, w),
b)`` does.

One portability rule: array-api-strict arrays raise a TypeError on a traced right-hand operand
instead of deferring to it, so where the left operand may be a raw array (``x @ w`` with raw
inputs ``x`` and traced weights ``w``), call the function: ``matmul(x, w)``. Library code
always does; NumPy and CuPy defer correctly either way.
"""

from refimpl.tracer import Tensor, getval, primitive

from .conv import col2im, conv2d, conv_output_size, im2col, max_pool2d, maxout
from .elementwise import (abs, add, clip, divide, exp, log, log1p, maximum, minimum, multiply,
                          negative, power, relu, sigmoid, sign, sqrt, square, subtract, tanh,
                          unbroadcast, where, zeros_like_value)
from .linalg import linear, matmul
from .reductions import (logsumexp, log_softmax, max, mean, min, one_hot, softmax,
                         softmax_cross_entropy, sum)
from .shape import (broadcast_to, concat, expand_dims, flatten, getitem, matrix_transpose,
                    permute_dims, reshape, squeeze, stack, sum_to_shape, transpose)

__all__ = [
    "Tensor", "getval", "primitive",
    "add", "subtract", "multiply", "divide", "negative", "power", "square", "exp", "log",
    "log1p", "sqrt", "abs", "sign", "tanh", "sigmoid", "relu", "maximum", "minimum", "where",
    "clip", "unbroadcast", "zeros_like_value",
    "sum", "mean", "max", "min", "logsumexp", "log_softmax", "softmax",
    "softmax_cross_entropy", "one_hot",
    "matmul", "linear",
    "reshape", "permute_dims", "transpose", "matrix_transpose", "expand_dims", "squeeze",
    "broadcast_to", "sum_to_shape", "concat", "stack", "getitem", "flatten",
    "im2col", "col2im", "conv2d", "max_pool2d", "maxout", "conv_output_size",
]

# Python's operators on traced values, each the primitive above. (Primitives are objects, not
# functions, so they do not bind as methods: each operator is a small function instead.)
Tensor.__add__ = Tensor.__radd__ = lambda self, other: add(self, other)
Tensor.__sub__ = lambda self, other: subtract(self, other)
Tensor.__rsub__ = lambda self, other: subtract(other, self)
Tensor.__mul__ = Tensor.__rmul__ = lambda self, other: multiply(self, other)
Tensor.__truediv__ = lambda self, other: divide(self, other)
Tensor.__rtruediv__ = lambda self, other: divide(other, self)
Tensor.__pow__ = lambda self, other: power(self, other)
Tensor.__rpow__ = lambda self, other: power(other, self)
Tensor.__matmul__ = lambda self, other: matmul(self, other)
Tensor.__rmatmul__ = lambda self, other: matmul(other, self)
Tensor.__neg__ = lambda self: negative(self)
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = lambda self: abs(self)
Tensor.__getitem__ = getitem
Tensor.mT = property(matrix_transpose)

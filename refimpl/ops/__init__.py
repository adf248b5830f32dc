"""Differentiable operations: the primitives (each with its VJP) and the functions built on them.

Every function here accepts raw arrays of any array-API library, Python and NumPy scalars
(as 0-d arrays), or traced :class:`~refimpl.tracer.Tensor` values, and returns the same kind.
Names and meanings are NumPy's where the array API has none (``dot``, ``einsum``, ``pad``,
``var(ddof=)``), so code written for ``autograd.numpy`` runs with ``import refimpl.ops as np``.
Traced values also get Python's operators (``+ - * / ** @``, unary ``-``, indexing, integer
arrays included) and NumPy's methods (``.T``, ``.mT``, ``.reshape``, ``.sum``, ``.mean``,
``.max``, ``.flatten``, ``.squeeze``, ``.astype``, ...; :mod:`.methods`), each the op of the same
name, so ``x @ w + b`` records exactly what ``add(matmul(x, w), b)`` does.

Modules, by topic: :mod:`.arithmetic` (+ - * /, maximum, where, clip), :mod:`.elementwise`
(powers, exp, log, trigonometry, activations), :mod:`.reductions` (sum, max, softmax family),
:mod:`.statistics` (var, std, prod, cumulative_sum), :mod:`.norms` (vector_norm),
:mod:`.linalg` (matmul, linear), :mod:`.contractions` (dot, tensordot, einsum),
:mod:`.shape` (reshape, transpose, concat, basic indexing, flip, pad), :mod:`.indexing` (take,
take_along_axis, sort), :mod:`.conv` (conv2d, conv_transpose), :mod:`.pool` (max_pool2d,
maxout).

One portability rule: array-api-strict arrays raise a TypeError on a traced right-hand operand
instead of deferring to it, so where the left operand may be a raw array (``x @ w`` with raw
inputs ``x`` and traced weights ``w``), call the function: ``matmul(x, w)``. Library code
always does; NumPy and CuPy defer correctly either way.
"""

from refimpl.tracer import Tensor, getval, primitive

from .contractions import dot, einsum, inner, outer, tensordot
from .conv import col2im, conv2d, conv_output_size, conv_transpose, im2col
from .pool import max_pool2d, maxout, pool_output_size
from .arithmetic import (add, astype, clip, divide, maximum, minimum, multiply, negative, square,
                          subtract, unbroadcast, where, zeros_like_value)
from .indexing import getitem, sort, take, take_along_axis
from .linalg import linear, matmul
from .elementwise import (abs, cos, exp, expm1, log, log1p, log2, logaddexp, power, relu, sigmoid,
                        sign, sin, softplus, sqrt, tanh)
from .norms import vector_norm
from .reductions import (logsumexp, log_softmax, max, mean, mean_softmax_cross_entropy, min,
                         one_hot, softmax, softmax_cross_entropy, sum)
from .shape import (broadcast_to, concat, expand_dims, flatten, flip, matrix_transpose, pad,
                    permute_dims, reshape, squeeze, stack, sum_to_shape, transpose)
from .statistics import cumulative_sum, prod, std, var

__all__ = [
    "Tensor", "getval", "primitive",
    "add", "subtract", "multiply", "divide", "negative", "power", "square", "exp", "expm1",
    "log", "log1p", "log2", "sqrt", "abs", "sign", "sin", "cos", "tanh", "sigmoid", "relu",
    "softplus", "logaddexp", "maximum", "minimum", "where", "clip", "astype", "unbroadcast",
    "zeros_like_value",
    "sum", "mean", "max", "min", "prod", "var", "std", "cumulative_sum", "vector_norm",
    "logsumexp", "log_softmax", "softmax", "softmax_cross_entropy",
    "mean_softmax_cross_entropy", "one_hot",
    "matmul", "linear", "dot", "inner", "outer", "tensordot", "einsum",
    "reshape", "permute_dims", "transpose", "matrix_transpose", "expand_dims", "squeeze",
    "broadcast_to", "sum_to_shape", "concat", "stack", "getitem", "flatten", "flip", "pad",
    "take", "take_along_axis", "sort",
    "im2col", "col2im", "conv2d", "conv_transpose", "max_pool2d", "maxout", "conv_output_size",
    "pool_output_size",
]

from . import methods  # noqa: E402,F401  (gives Tensor its operators and array methods)

"""Reverse-mode automatic differentiation, from scratch.

The engine (boxes, nodes, the backward pass) is :mod:`refimpl.tracer`; the primitives and
their VJPs are :mod:`refimpl.ops`; this package is the functional interface in the style of
HIPS autograd and JAX, and the gradient checker the tests and tutorials use.
"""

from .api import grad, jacobian, stop_gradient, value_and_grad, value_and_jacobian, vjp
from .check import check_grads

__all__ = ["grad", "value_and_grad", "vjp", "jacobian", "value_and_jacobian", "stop_gradient",
           "check_grads"]

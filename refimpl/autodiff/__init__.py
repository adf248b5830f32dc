"""Reverse-mode automatic differentiation, from scratch.

The engine (boxes, nodes, the backward pass) is :mod:`refimpl.tracer`; the primitives and
their VJPs are :mod:`refimpl.ops`; this package is the functional interface in the style of
HIPS autograd and JAX (:mod:`.api`, :mod:`.transforms`), and the gradient checker the tests and
tutorials use (:mod:`.check`).
"""

from .api import grad, jacobian, stop_gradient, value_and_grad, value_and_jacobian, vjp
from .check import check_grads
from .transforms import elementwise_grad, hessian, hvp, jvp

__all__ = ["grad", "value_and_grad", "vjp", "elementwise_grad", "jacobian",
           "value_and_jacobian", "hessian", "hvp", "jvp", "stop_gradient", "check_grads"]

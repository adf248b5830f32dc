"""Reusable property checks and hypothesis strategies for closed-form perturbations.

Point them at a closed form of your own::

    from hypothesis import given
    from refimpl.testing import check_steepest_ascent, gradient_batches

    @given(gradient_batches())
    def test_my_l3_step(grad):
        check_steepest_ascent(my_step, lp.norm, lp.dual_norm, grad, 1.5, p=3.0)

Not imported by ``import refimpl``: it needs hypothesis, which only tests and tutorials use.
"""

from .checks import check_hoelder, check_projection, check_steepest_ascent
from .strategies import batch_shapes, entries, gradient_batches, norm_exponents, radii

__all__ = ["check_steepest_ascent", "check_projection", "check_hoelder", "gradient_batches",
           "norm_exponents", "radii", "batch_shapes", "entries"]

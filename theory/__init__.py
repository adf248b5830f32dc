"""theory: the papers' linear-model results as functions, checked numerically.

Filled in by later work (norms, adversarial logistic regression, gradient regularization,
Gaussian-noise error estimates, linearized perturbations, sign noise); see SPEC.md.
"""

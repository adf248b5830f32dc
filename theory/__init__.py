"""theory: the papers' linear-model results as plain float64 functions, checked numerically.

Each module states a proposition, implements its closed form in NumPy, and offers the
numerical counterpart (scipy.optimize, finite differences, Monte Carlo, refimpl's double
backprop) that the tests in tests/theory compare it with:

- ``theory.norms``: lp and k-support norms, their duals, and the maximisers of <g, d> over
  their balls (the steepest-ascent closed forms of refimpl.perturbations).
- ``theory.logistic`` (and ``theory.logistic_hessian``): adversarial logistic regression in
  closed form ("Learning with a strong adversary", appendix A: Props. B, C, D with its
  uniqueness condition; Goodfellow's linf case and mixed objective).
- ``theory.gradient_regularization``: first- and second-order expansions of the worst-case
  loss, Lemma B.1 and Gaussian-noise smoothing ("A unified gradient regularization family for
  adversarial examples", sec. III, appendix B).
- ``theory.gaussian_noise`` and ``theory.lyu_tables``: misclassification under Gaussian noise
  predicted from minimum perturbations (the same paper, sec. V-A, Tables VI-VIII), run with
  ``python -m theory lyu-tables``; eq. 29's bound and Table IX's linear-density prediction.
- ``theory.linearized``: the minimal linearized perturbation (Props. 3-4) and Danskin's
  gradient (Prop. 6) of "Learning with a strong adversary".
- ``theory.sign_noise``: the sign-noise map g(x) = x + eps x l(x), its Jacobian and the
  curvature factor ("Feed-forward sign noise", sec. 3).

Importing ``theory`` imports none of these (and never matplotlib); import the module you need.
"""

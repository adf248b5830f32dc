"""Neural nets on refimpl's autodiff: layers, the papers' models, losses and optimizers.

Parameters live in flat dicts ``{"dense1.weight": array, ...}``; a model is pure code (layer
hyper-parameters) and never holds arrays, so ``grad(loss)(params, x, y)`` differentiates in the
parameters and ``grad(loss, argnum=1)`` in the inputs with the same model::

    model = nn.build("mlp-400-400", (1, 28, 28))
    params = model.init(make_rng(0))
    loss = lambda params, x, y: nn.cross_entropy(model.apply(params, x), y)
"""

from refimpl.nn.architectures import MODELS, build
from refimpl.nn.init import get_initializer, glorot_uniform, he_normal, uniform, zeros
from refimpl.nn.batchnorm import BatchNorm, collect_state, state_keys
from refimpl.nn.layers import (Conv2d, Dense, Dropout, Flatten, Layer, MaxPool2d, Maxout, ReLU,
                               Sigmoid, Tanh)
from refimpl.nn.losses import cross_entropy, cross_entropy_unchecked, logistic, softplus
from refimpl.nn.models import Model, Sequential, count_parameters
from refimpl.nn.optim import SGD, Adam, max_norm, piecewise_constant

__all__ = [
    "MODELS", "build", "Model", "Sequential", "count_parameters",
    "Layer", "Dense", "Conv2d", "MaxPool2d", "Flatten", "Dropout", "ReLU", "Sigmoid", "Tanh",
    "Maxout", "BatchNorm", "collect_state", "state_keys", "he_normal", "glorot_uniform", "uniform", "zeros", "get_initializer",
    "cross_entropy", "cross_entropy_unchecked", "logistic", "softplus",
    "SGD", "Adam", "max_norm", "piecewise_constant",
]

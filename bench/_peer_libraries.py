"""torchattacks, ART and Foolbox 3 on a refimpl model: the same weights in a torch module,
each library's attacks with the settings of ``peer_attacks.SETTINGS``, and each library's input
gradient of the cross-entropy (the gradient its attacks step along).

Every function takes float32 NumPy images (N, C, H, W) in [0, 1] and int64 labels (N,) and
returns float32 NumPy arrays, so that ``peer_attacks.py`` scores every library the same way.
The settings a library needs (step size, random start, ...) come from one ``setting`` dict:

    {"kind": "fgsm" | "pgd" | "deepfool" | "apgd", "p": 2 or inf, "radius": ..., "steps": ...,
     "step_size": ..., "random_start": bool, "overshoot": ..., "seed": ...}

A library without an attack answers None (Foolbox has no APGD).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from refimpl.nn.layers import (Conv2d, Dense, Dropout, Flatten, MaxPool2d, ReLU, Sigmoid,
                               Tanh)

__all__ = ["torch_module", "torch_logits", "LIBRARIES", "versions"]

BATCH = 250  # ART's batch_size (its attacks loop over batches themselves)


def torch_module(model, params) -> nn.Sequential:
    """An eval-mode nn.Sequential computing ``model.apply(params, x)`` in float32.

    refimpl stores a dense weight input-major, (in, out), so nn.Linear gets its transpose;
    conv weights (O, C, KH, KW) and NCHW flattening are torch's layout already.
    """
    layers = []
    for stack in (model.representation, model.classifier):
        for name, layer in zip(stack.names, stack.layers):
            layers.append(_torch_layer(layer, params, name))
    return nn.Sequential(*layers).eval()


def _torch_layer(layer, params, name) -> nn.Module:
    def weights(module, weight):
        module.weight.data = torch.tensor(np.ascontiguousarray(weight), dtype=torch.float32)
        module.bias.data = torch.tensor(np.asarray(params[f"{name}.bias"]), dtype=torch.float32)
        return module

    if isinstance(layer, Dense):
        w = np.asarray(params[f"{name}.weight"])  # (in, out)
        return weights(nn.Linear(w.shape[0], w.shape[1]), w.T)
    if isinstance(layer, Conv2d):
        w = np.asarray(params[f"{name}.weight"])  # (O, C, KH, KW)
        return weights(nn.Conv2d(w.shape[1], w.shape[0], layer.kernel_size, stride=layer.stride,
                                 padding=layer.padding), w)
    if isinstance(layer, MaxPool2d):  # torch sends a tied window's gradient to one maximum
        return nn.MaxPool2d(layer.kernel_size, stride=layer.stride, padding=layer.padding)
    simple = {Flatten: nn.Flatten, ReLU: nn.ReLU, Sigmoid: nn.Sigmoid, Tanh: nn.Tanh,
              Dropout: nn.Identity}  # dropout is off at evaluation
    if type(layer) in simple:
        return simple[type(layer)]()
    raise NotImplementedError(f"no torch counterpart for {name}: {layer!r}")


def torch_logits(net, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def _tensors(x, y):
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y).long()


def _torchattacks(net, setting, x, y):
    import torchattacks  # noqa: PLC0415
    kind, r = setting["kind"], setting["radius"]
    torch.manual_seed(setting.get("seed", 0))
    if kind == "fgsm":
        attack = torchattacks.FGSM(net, eps=r)
    elif kind == "pgd":
        cls = torchattacks.PGD if math.isinf(setting["p"]) else torchattacks.PGDL2
        attack = cls(net, eps=r, alpha=setting["step_size"], steps=setting["steps"],
                     random_start=setting["random_start"])
    elif kind == "deepfool":
        attack = torchattacks.DeepFool(net, steps=setting["steps"],
                                       overshoot=setting["overshoot"])
    elif kind == "apgd":
        attack = torchattacks.APGD(net, norm="Linf", eps=r, steps=setting["steps"],
                                   n_restarts=1, seed=setting.get("seed", 0), loss="ce")
    else:
        return None
    return attack(*_tensors(x, y)).detach().numpy()


def _art_classifier(net, x):
    from art.estimators.classification import PyTorchClassifier  # noqa: PLC0415
    return PyTorchClassifier(net, loss=nn.CrossEntropyLoss(), input_shape=x.shape[1:],
                             nb_classes=10, clip_values=(0.0, 1.0), device_type="cpu")


def _art(net, setting, x, y):
    from art.attacks import evasion  # noqa: PLC0415
    classifier, kind, r = _art_classifier(net, x), setting["kind"], setting["radius"]
    norm = np.inf if math.isinf(setting.get("p", math.inf)) else setting["p"]
    np.random.seed(setting.get("seed", 0))  # ART draws its random starts from NumPy
    if kind == "fgsm":
        attack = evasion.FastGradientMethod(classifier, norm=np.inf, eps=r, batch_size=BATCH)
    elif kind == "pgd":
        attack = evasion.ProjectedGradientDescent(
            classifier, norm=norm, eps=r, eps_step=setting["step_size"],
            max_iter=setting["steps"], num_random_init=int(setting["random_start"]),
            batch_size=BATCH, verbose=False)
    elif kind == "deepfool":  # ART's epsilon is the overshoot
        attack = evasion.DeepFool(classifier, max_iter=setting["steps"],
                                  epsilon=setting["overshoot"], nb_grads=10, batch_size=BATCH,
                                  verbose=False)
    elif kind == "apgd":  # eta starts at 2 radius (Croce and Hein)
        attack = evasion.AutoProjectedGradientDescent(
            classifier, norm=np.inf, eps=r, eps_step=2 * r, max_iter=setting["steps"],
            nb_random_init=1, batch_size=BATCH, loss_type="cross_entropy", verbose=False)
    else:
        return None
    return attack.generate(x, np.eye(10, dtype=np.float32)[y]).astype(np.float32)


def _foolbox(net, setting, x, y):
    import foolbox as fb  # noqa: PLC0415
    model = fb.PyTorchModel(net, bounds=(0.0, 1.0), device="cpu")
    kind, r = setting["kind"], setting["radius"]
    torch.manual_seed(setting.get("seed", 0))  # Foolbox draws through eagerpy from torch
    if kind == "fgsm":
        attack = fb.attacks.FGSM()
    elif kind == "pgd":
        cls = fb.attacks.LinfPGD if math.isinf(setting["p"]) else fb.attacks.L2PGD
        attack = cls(abs_stepsize=setting["step_size"], steps=setting["steps"],
                     random_start=setting["random_start"])
    elif kind == "deepfool":
        attack = fb.attacks.L2DeepFoolAttack(steps=setting["steps"], candidates=10,
                                            overshoot=setting["overshoot"])
        r = None  # a minimisation attack: its raw output, not one clipped to a radius
    else:
        return None
    raw, clipped, _ = attack(model, *_tensors(x, y), epsilons=r)
    return (raw if r is None else clipped).detach().numpy()


def _torch_ce_gradient(net, x, y):
    """What torchattacks steps along: autograd of nn.CrossEntropyLoss (log_softmax + NLL)."""
    xt, yt = _tensors(x, y)
    xt.requires_grad_(True)
    loss = nn.functional.cross_entropy(net(xt), yt, reduction="sum")
    return torch.autograd.grad(loss, xt)[0].numpy()


def _art_gradient(net, x, y):
    return _art_classifier(net, x).loss_gradient(x, np.eye(10, dtype=np.float32)[y]).astype(
        np.float32)


def _foolbox_gradient(net, x, y):
    """Foolbox's PGD gradient: ep.value_and_grad of its own loss (ep.crossentropy, summed)."""
    import eagerpy as ep  # noqa: PLC0415
    import foolbox as fb  # noqa: PLC0415
    model = fb.PyTorchModel(net, bounds=(0.0, 1.0), device="cpu")
    xt, yt = _tensors(x, y)
    loss_fn = fb.attacks.LinfPGD().get_loss_fn(model, ep.astensor(yt))
    return ep.value_and_grad(loss_fn, ep.astensor(xt))[1].raw.numpy()


LIBRARIES = {  # name -> (attack(net, setting, x, y) -> x_adv or None, gradient(net, x, y))
    "torchattacks": (_torchattacks, _torch_ce_gradient),
    "art": (_art, _art_gradient),
    "foolbox": (_foolbox, _foolbox_gradient),
}


def versions() -> dict:
    import importlib.metadata as md  # noqa: PLC0415
    names = ["torch", "torchattacks", "adversarial-robustness-toolbox", "foolbox", "eagerpy",
             "numpy", "scipy"]
    return {name: md.version(name) for name in names}

"""The benchmark steps written with PyTorch (CPU, eager) and JAX (jit), for side-by-side timing.

Each builder takes the NumPy params dict of ``autodiff_overhead.py`` (refimpl's names and
layouts: dense weights (in, out), conv weights (O, C, KH, KW)) and a batch, and returns a
callable doing one step: an SGD update of its own copy of the params, or the input gradient
(the FGSM direction). A builder returns ``None`` when its library is not installed, so the
benchmark skips that column cleanly.
"""

from __future__ import annotations

import importlib.util

__all__ = ["available", "torch_steps", "jax_steps"]


def available(name: str) -> bool:
    """True when the library ``name`` can be imported (without importing it)."""
    return importlib.util.find_spec(name) is not None


def torch_steps(params, x, labels, *, model, lr, threads):
    """{"step": SGD step, "input_grad": d loss / d x} in PyTorch eager, or None."""
    if not available("torch"):
        return None
    import torch  # noqa: PLC0415
    import torch.nn.functional as F  # noqa: PLC0415, N812

    torch.set_num_threads(threads)
    weights = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    xt, yt = torch.tensor(x), torch.tensor(labels, dtype=torch.int64)

    def loss_fn(w, xb):
        if model == "mlp":
            h = F.relu(xb @ w["dense1.weight"] + w["dense1.bias"])
            h = F.relu(h @ w["dense2.weight"] + w["dense2.bias"])
            logits = h @ w["dense3.weight"] + w["dense3.bias"]
        else:
            h = F.max_pool2d(F.relu(F.conv2d(xb, w["conv1.weight"], w["conv1.bias"])), 2)
            h = F.max_pool2d(F.relu(F.conv2d(h, w["conv2.weight"], w["conv2.bias"])), 2)
            h = F.relu(h.flatten(1) @ w["dense1.weight"] + w["dense1.bias"])
            logits = h @ w["dense2.weight"] + w["dense2.bias"]
        return F.cross_entropy(logits, yt)

    def step():
        loss = loss_fn(weights, xt)
        grads = torch.autograd.grad(loss, list(weights.values()))
        with torch.no_grad():
            for w, g in zip(weights.values(), grads):
                w.sub_(lr * g)
        return loss

    def input_grad():
        xg = xt.detach().requires_grad_(True)
        return torch.autograd.grad(loss_fn(weights, xg), xg)[0]

    return {"step": step, "input_grad": input_grad}


def jax_steps(params, x, labels, *, model, lr, threads):
    """{"step": ..., "input_grad": ...} with jax.jit, or None when JAX is not installed."""
    if not available("jax"):
        return None
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415

    def loss_fn(w, xb):
        if model == "mlp":
            h = jax.nn.relu(xb @ w["dense1.weight"] + w["dense1.bias"])
            h = jax.nn.relu(h @ w["dense2.weight"] + w["dense2.bias"])
            logits = h @ w["dense3.weight"] + w["dense3.bias"]
        else:
            def conv_pool(h, name):
                h = jax.lax.conv_general_dilated(h, w[f"{name}.weight"], (1, 1), "VALID")
                h = jax.nn.relu(h + w[f"{name}.bias"][None, :, None, None])
                return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2),
                                             (1, 1, 2, 2), "VALID")
            h = conv_pool(conv_pool(xb, "conv1"), "conv2").reshape(xb.shape[0], -1)
            h = jax.nn.relu(h @ w["dense1.weight"] + w["dense1.bias"])
            logits = h @ w["dense2.weight"] + w["dense2.bias"]
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, yj[:, None], axis=1))

    yj, xj = jnp.asarray(labels), jnp.asarray(x)
    state = {"w": {k: jnp.asarray(v) for k, v in params.items()}}
    sgd = jax.jit(lambda w, xb: jax.tree_util.tree_map(
        lambda p, g: p - lr * g, w, jax.grad(loss_fn)(w, xb)))
    input_grad = jax.jit(jax.grad(loss_fn, argnums=1))

    def step():
        state["w"] = sgd(state["w"], xj)
        return jax.block_until_ready(state["w"])

    return {"step": step,
            "input_grad": lambda: jax.block_until_ready(input_grad(state["w"], xj))}

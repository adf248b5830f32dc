"""The training loop on tiny synthetic data: learning, seeding, history, exact resumption from
a checkpoint, NaN detection, the max-norm constraint and quiet mode."""

import math
import re

import numpy as np
import pytest
from conftest import assert_namespace

from refimpl import nn
from refimpl.backend import make_rng, namespace_by_name, to_numpy
from refimpl.training import (NonFiniteLossError, evaluate, fit, get_method, load_checkpoint,
                               normal, predict_logits)

SHAPE = (1, 8, 8)


def blobs(xp, n=64, seed=0):
    """Two Gaussian blobs in 64 dimensions (as 8x8 images), labels 0 and 1, float32 / int64."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    centers = np.stack([np.full(64, -0.5), np.full(64, 0.5)])
    x = centers[y] + rng.normal(0.0, 1.0, size=(n, 64))
    return xp.asarray(x.reshape(n, *SHAPE).astype(np.float32)), xp.asarray(y.astype(np.int64))


def mlp(xp, name="mlp-100-100", seed=0):
    model = nn.build(name, SHAPE, num_classes=2)
    return model, model.init(make_rng(seed, xp))


def _numpy(params):
    return {k: to_numpy(v) for k, v in params.items()}


def assert_params_equal(a, b):
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(to_numpy(a[key]), to_numpy(b[key]), err_msg=key)


def test_loss_decreases_and_accuracy_rises(xp):
    model, params = mlp(xp)
    train, test = blobs(xp, seed=0), blobs(xp, seed=1)
    before = evaluate(model, params, *test, batch_size=32)  # see test_partial_batches_on_strict
    result = fit(model, params, train, optimizer=nn.SGD(0.1, momentum=0.9), epochs=5,
                 batch_size=16, quiet=True)
    losses = [r["train_loss"] for r in result.history]
    assert losses[-1] < 0.5 * losses[0]
    after = evaluate(model, result.params, *test, batch_size=32)
    assert after["loss"] < before["loss"]
    assert after["accuracy"] >= 0.95 > before["accuracy"] + 0.2
    for value in result.params.values():
        assert_namespace(value, xp)
        assert value.dtype == xp.float32


def test_test_metrics_in_the_history():
    model, params = mlp(np)
    test = blobs(np, seed=1)
    result = fit(model, params, blobs(np), optimizer=nn.SGD(0.1, momentum=0.9), epochs=3,
                 batch_size=16, test=test, quiet=True)
    for record in result.history:
        assert set(record) == {"epoch", "lr", "train_loss", "steps", "seconds", "test_loss",
                               "test_accuracy"}
    after = evaluate(model, result.params, *test)
    assert after == {"loss": result.history[-1]["test_loss"],
                     "accuracy": result.history[-1]["test_accuracy"], "n": 64}
    assert result.history[-1]["test_accuracy"] >= 0.95


@pytest.mark.parametrize("call", ["fit-partial-batch", "fit-with-test", "evaluate",
                                  "predict_logits"])
def test_partial_batches_on_strict_match_numpy(call):
    """Batch sizes that do not divide N work on array-api-strict (no slice runs past the end)
    and give what NumPy gives."""
    def run(xp):
        model, params = mlp(xp)
        x, y = blobs(xp, n=10)
        if call == "fit-partial-batch":
            out = fit(model, params, (x, y), optimizer=nn.SGD(0.1), epochs=1, batch_size=4,
                      quiet=True).params
        elif call == "fit-with-test":
            out = fit(model, params, (x, y), optimizer=nn.SGD(0.1), epochs=1, batch_size=5,
                      test=(x, y), quiet=True).history[-1]["test_loss"]
        elif call == "evaluate":
            out = evaluate(model, params, x, y)["loss"]
        else:
            out = predict_logits(model, params, x, batch_size=4)
        return {k: to_numpy(v) for k, v in out.items()} if isinstance(out, dict) else (
            out if isinstance(out, float) else to_numpy(out))
    strict, reference = run(namespace_by_name("array_api_strict")), run(np)
    if isinstance(reference, dict):
        for key in reference:
            np.testing.assert_allclose(strict[key], reference[key], rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(strict, reference, rtol=1e-5, atol=1e-6)


def test_history_records():
    model, params = mlp(np)
    result = fit(model, params, blobs(np), optimizer=nn.SGD(0.1), epochs=3, batch_size=24,
                 schedule=nn.piecewise_constant(0.1, {2: 0.05}), quiet=True)
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    assert [r["lr"] for r in result.history] == [0.1, 0.1, 0.05]
    assert [r["steps"] for r in result.history] == [3, 6, 9]  # ceil(64 / 24) = 3 steps an epoch
    for record in result.history:
        assert set(record) == {"epoch", "lr", "train_loss", "steps", "seconds"}
        assert math.isfinite(record["train_loss"]) and record["seconds"] >= 0
    assert result.opt_state["step"] == 9


def test_train_loss_is_the_mean_batch_loss():
    """With lr = 0 the parameters stay put, so the epoch's train loss (mean of equal-sized
    batches' losses) is the cross-entropy over the whole set."""
    model, params = mlp(np)
    train = blobs(np)
    result = fit(model, params, train, optimizer=nn.SGD(0.0), epochs=2, batch_size=16, quiet=True)
    assert_params_equal(result.params, params)
    expected = evaluate(model, params, *train)["loss"]
    for record in result.history:
        assert record["train_loss"] == pytest.approx(expected, rel=1e-5)


def test_a_zero_learning_rate_from_the_schedule_freezes_the_parameters():
    model, params = mlp(np)
    kwargs = dict(optimizer=nn.SGD(0.1), batch_size=16, quiet=True)
    one = fit(model, params, blobs(np), epochs=1, **kwargs)
    two = fit(model, params, blobs(np), epochs=2, schedule=nn.piecewise_constant(0.1, {1: 0.0}),
              **kwargs)
    assert_params_equal(one.params, two.params)
    assert not np.array_equal(one.params["dense1.weight"], params["dense1.weight"])


def test_seeds(xp):
    model, params = mlp(xp)
    run = lambda seed: fit(model, params, blobs(xp), optimizer=nn.SGD(0.1), epochs=2,  # noqa: E731
                           batch_size=16, seed=seed, quiet=True).params
    first, again, other = run(3), run(3), run(4)
    assert_params_equal(first, again)
    assert not np.array_equal(to_numpy(first["dense1.weight"]), to_numpy(other["dense1.weight"]))


def test_params_passed_in_are_not_mutated(xp):
    model, params = mlp(xp, "mlp-200-200-dropout")
    before = _numpy(params)
    keys = list(params)
    fit(model, params, blobs(xp), optimizer=nn.SGD(0.1, momentum=0.9), epochs=2, batch_size=16,
        max_norm_limit=0.1, quiet=True)
    assert list(params) == keys
    assert_params_equal(params, before)


def test_each_epoch_visits_every_example_once_in_a_new_order():
    """Shuffles: every example once per epoch (last batch smaller), a fresh order each epoch,
    and fresh training noise (the rng handed to the method) each epoch."""
    seen, noise = [], []

    def recording(model, params, x, y, *, rng=None):
        seen.append(to_numpy(x)[:, 0, 0, 0].astype(int).tolist())
        noise.append(to_numpy(rng.uniform((3,))).tolist())
        return normal(model, params, x, y, rng=rng)

    model, params = mlp(np)
    x = np.broadcast_to(np.arange(40, dtype=np.float32)[:, None, None, None], (40, *SHAPE)).copy()
    fit(model, params, (x, np.arange(40) % 2), optimizer=nn.SGD(0.01), epochs=3, batch_size=16,
        method=recording, quiet=True)
    assert [len(batch) for batch in seen] == [16, 16, 8] * 3
    epochs = [sum(seen[3 * e:3 * e + 3], []) for e in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(40))
    assert epochs[0] != epochs[1] != epochs[2] != epochs[0]
    assert noise[0] != noise[3] != noise[6] != noise[0]  # first step of each epoch
    assert len({tuple(n) for n in noise}) == 9


# ---- resuming --------------------------------------------------------------------------------

RESUME_CASES = {
    "plain-sgd": ("mlp-100-100", lambda: nn.SGD(0.1)),
    "dropout-momentum": ("mlp-200-200-dropout", lambda: nn.SGD(0.05, momentum=0.9, nesterov=True,
                                                               weight_decay=1e-3, lr_decay=0.01)),
    "adam-max-norm": ("mlp-200-200-dropout", lambda: nn.Adam(1e-3)),
}


@pytest.mark.parametrize("case", list(RESUME_CASES))
def test_resume_is_exact(tmp_path, case):
    name, make_optimizer = RESUME_CASES[case]
    model, params = mlp(np, name)
    kwargs = dict(batch_size=20, seed=5, quiet=True, schedule=nn.piecewise_constant(0.1, {2: 0.03})
                  if case != "adam-max-norm" else None,
                  max_norm_limit=0.3 if case == "adam-max-norm" else None)
    whole = fit(model, params, blobs(np), optimizer=make_optimizer(), epochs=3,
                checkpoint=tmp_path / "whole.npz", **kwargs)
    fit(model, params, blobs(np), optimizer=make_optimizer(), epochs=2,
        checkpoint=tmp_path / "part.npz", **kwargs)
    resumed = fit(model, params, blobs(np), optimizer=make_optimizer(), epochs=3,
                  checkpoint=tmp_path / "part.npz", resume=True, **kwargs)
    assert_params_equal(resumed.params, whole.params)
    assert resumed.opt_state["step"] == whole.opt_state["step"] == 12
    assert resumed.opt_state["slots"].keys() == whole.opt_state["slots"].keys()
    for slot in whole.opt_state["slots"]:
        assert_params_equal(resumed.opt_state["slots"][slot], whole.opt_state["slots"][slot])
    def strip(history):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in history]
    assert strip(resumed.history) == strip(whole.history) and len(whole.history) == 3
    # the resumed run's checkpoint now equals the uninterrupted one's
    p_whole, _, meta_whole = load_checkpoint(tmp_path / "whole.npz")
    p_part, _, meta_part = load_checkpoint(tmp_path / "part.npz")
    assert_params_equal(p_part, p_whole)
    assert meta_part["epoch"] == meta_whole["epoch"] == 3


def test_resume_on_another_backend(tmp_path, xp):
    model, params = mlp(xp, "mlp-200-200-dropout")
    kwargs = dict(optimizer=nn.SGD(0.05, momentum=0.9), batch_size=16, seed=2, quiet=True)
    whole = fit(model, params, blobs(xp), epochs=2, **kwargs)
    fit(model, params, blobs(xp), epochs=1, checkpoint=tmp_path / "c.npz", **kwargs)
    resumed = fit(model, params, blobs(xp), epochs=2, checkpoint=tmp_path / "c.npz", resume=True,
                  **kwargs)
    for value in resumed.params.values():
        assert_namespace(value, xp)
    assert_params_equal(resumed.params, whole.params)


def test_resume_of_a_finished_run_trains_no_more(tmp_path):
    model, params = mlp(np)
    kwargs = dict(optimizer=nn.SGD(0.1), batch_size=16, checkpoint=tmp_path / "c.npz", quiet=True)
    done = fit(model, params, blobs(np), epochs=2, **kwargs)
    again = fit(model, params, blobs(np), epochs=2, resume=True, **kwargs)
    assert_params_equal(again.params, done.params)
    assert len(again.history) == 2 and again.opt_state["step"] == 8


def test_resume_without_a_checkpoint_starts_afresh(tmp_path):
    model, params = mlp(np)
    kwargs = dict(optimizer=nn.SGD(0.1), epochs=1, batch_size=16, quiet=True)
    fresh = fit(model, params, blobs(np), **kwargs)
    resumed = fit(model, params, blobs(np), checkpoint=tmp_path / "none.npz", resume=True, **kwargs)
    assert_params_equal(resumed.params, fresh.params)


@pytest.mark.parametrize("change", [dict(seed=1), dict(batch_size=32), dict(model="mlp-500-500"),
                                    dict(optimizer=nn.Adam(0.01)), dict(method=get_method("ksup")),
                                    dict(method=get_method("lwa", radius=1.0))])
def test_resume_refuses_a_different_run(tmp_path, change):
    model, params = mlp(np)
    path = tmp_path / "c.npz"
    fit(model, params, blobs(np), optimizer=nn.SGD(0.1), epochs=1, batch_size=16, seed=0,
        checkpoint=path, quiet=True, method=get_method("lwa"))
    kwargs = dict(batch_size=16, seed=0, optimizer=nn.SGD(0.1), method=get_method("lwa")) | {
        k: v for k, v in change.items() if k != "model"}
    if "model" in change:
        model, params = mlp(np, change["model"])
    with pytest.raises(ValueError, match="different run"):
        fit(model, params, blobs(np), epochs=2, checkpoint=path, resume=True, quiet=True, **kwargs)


def test_checkpoint_metadata(tmp_path):
    model, params = mlp(np)
    path = tmp_path / "sub" / "c.npz"  # the folder is created
    result = fit(model, params, blobs(np), optimizer=nn.SGD(0.1, momentum=0.5), epochs=2,
                 batch_size=16, seed=9, checkpoint=path, meta={"dataset": "blobs"}, quiet=True)
    saved, opt_state, meta = load_checkpoint(path)
    assert_params_equal(saved, result.params)
    assert_params_equal(opt_state["slots"]["velocity"], result.opt_state["slots"]["velocity"])
    assert opt_state["step"] == 8
    assert {k: meta[k] for k in ("dataset", "model", "seed", "batch_size", "method", "epoch",
                                 "epochs")} == {"dataset": "blobs", "model": "mlp-100-100",
                                                "seed": 9, "batch_size": 16, "method": "normal",
                                                "epoch": 2, "epochs": 2}
    assert [r["epoch"] for r in meta["history"]] == [1, 2]


# ---- failures and constraints ----------------------------------------------------------------


def test_nan_input_stops_training(tmp_path):
    model, params = mlp(np)
    x, y = blobs(np)
    x[:] = np.nan
    with pytest.raises(ValueError, match=r"train x: expected finite values"):  # at fit's entry
        fit(model, params, (x, y), optimizer=nn.SGD(0.1), epochs=2, batch_size=16, quiet=True,
            checkpoint=tmp_path / "c.npz")
    assert not (tmp_path / "c.npz").exists()  # no checkpoint of a failed epoch


def test_huge_learning_rate_stops_training():
    model, params = mlp(np)
    with np.errstate(all="ignore"), pytest.raises(NonFiniteLossError,
                                                  match=r"at epoch \d+, batch \d+") as info:
        fit(model, params, blobs(np), optimizer=nn.SGD(1e30), epochs=3, batch_size=8, quiet=True)
    assert isinstance(info.value, FloatingPointError)
    assert re.search(r"became (nan|inf)", str(info.value))


@pytest.mark.parametrize("check_every", [1, 3, 25])
def test_non_finite_loss_is_located(tmp_path, check_every):
    """A loss that turns NaN at the 6th step (4 steps an epoch) is reported at epoch 2, batch 2,
    however often the losses are checked; the checkpoint keeps epoch 1."""
    calls = []

    def nan_at_step_6(model, params, x, y, *, rng=None):
        calls.append(1)
        loss = normal(model, params, x, y, rng=rng)
        return loss * float("nan") if len(calls) == 6 else loss

    model, params = mlp(np)
    path = tmp_path / "c.npz"
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, batch 2 \(step 6 of the run\)"):
        fit(model, params, blobs(np), optimizer=nn.SGD(0.1), epochs=3, batch_size=16,
            method=nan_at_step_6, checkpoint=path, check_every=check_every, quiet=True)
    assert load_checkpoint(path)[2]["epoch"] == 1


def test_max_norm_limit_is_enforced(xp):
    model, params = mlp(xp)
    limit = 0.2
    norms = lambda w: np.linalg.norm(to_numpy(w).astype(np.float64), axis=0)  # noqa: E731
    free = fit(model, params, blobs(xp), optimizer=nn.SGD(0.5), epochs=2, batch_size=16,
               quiet=True).params
    assert max(norms(free[k]).max() for k in free if k.endswith(".weight")) > limit  # it bites
    bounded = fit(model, params, blobs(xp), optimizer=nn.SGD(0.5), epochs=2, batch_size=16,
                  max_norm_limit=limit, quiet=True).params
    for key, value in bounded.items():
        if key.endswith(".weight"):
            assert norms(value).max() <= limit * (1 + 1e-5), key
    assert max(np.abs(to_numpy(bounded[k])).max() for k in bounded if k.endswith(".bias")) > 0


def test_quiet_prints_nothing(capsys, tmp_path):
    model, params = mlp(np)
    kwargs = dict(optimizer=nn.SGD(0.1), batch_size=16, checkpoint=tmp_path / "c.npz")
    fit(model, params, blobs(np), epochs=1, quiet=True, **kwargs)
    fit(model, params, blobs(np), epochs=2, quiet=True, resume=True, **kwargs)
    assert capsys.readouterr() == ("", "")
    fit(model, params, blobs(np), epochs=3, quiet=False, resume=True, test=blobs(np, 16, 1),
        **kwargs)
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("resuming from") and out[1].startswith("epoch 3/3")
    assert "test accuracy" in out[1] and len(out) == 2


def test_log_receives_one_line_per_epoch():
    lines = []
    model, params = mlp(np)
    fit(model, params, blobs(np), optimizer=nn.SGD(0.1), epochs=2, batch_size=16, log=lines.append)
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs=-1), "epochs"), (dict(epochs=1.5), "epochs"), (dict(batch_size=0), "batch_size"),
    (dict(train=(np.zeros((4, *SHAPE), np.float32), np.zeros(3, np.int64))), "same"),
    (dict(train=(np.zeros((0, *SHAPE), np.float32), np.zeros(0, np.int64))), "non-zero"),
])
def test_bad_arguments(kwargs, match):
    model, params = mlp(np)
    kwargs = dict(train=blobs(np), epochs=1) | kwargs
    with pytest.raises(ValueError, match=match):
        fit(model, params, kwargs.pop("train"), optimizer=nn.SGD(0.1), quiet=True, **kwargs)

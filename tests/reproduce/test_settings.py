"""The authors' settings as the experiments record them, the training-order option of the loop,
the translation of run options, and the cache keys of stored fixed sets."""

import json
import math

import numpy as np
import pytest

from refimpl import nn
from refimpl.backend import make_rng
from refimpl.cli import main
from refimpl.reproduce import EXPERIMENTS, Context, describe
from refimpl.reproduce.runner import method_arguments
from refimpl.training import fit


def _orders(shuffle, epochs=3, n=10):
    """The label batches a method sees, epoch by epoch (labels are the row indices, 10 rows and 10 classes)."""
    seen = []

    def recorder(model, params, x, y, *, rng=None):
        seen.append(np.asarray(y).copy())
        return nn.cross_entropy(model.apply(params, x), y % 10)

    model = nn.build("mlp-100-100", (4,))
    x = np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)
    fit(model, model.init(make_rng(0), np.float32), (x, np.arange(n)), epochs=epochs,
        batch_size=n, optimizer=nn.SGD(0.1), method=recorder, quiet=True, shuffle=shuffle)
    return seen


def test_training_order_options():
    once, every, none = _orders("once"), _orders("epoch"), _orders("none")
    assert all(np.array_equal(o, once[0]) for o in once)  # one permutation, kept
    assert not np.array_equal(once[0], np.arange(10))
    assert not all(np.array_equal(o, every[0]) for o in every)
    assert all(np.array_equal(o, np.arange(10)) for o in none)  # file order
    assert np.array_equal(np.sort(once[0]), np.arange(10))
    with pytest.raises(ValueError, match="shuffle"):
        _orders("sometimes")


def test_huang_and_ksup_runs_use_the_authors_settings():
    huang = {run.label: run for run in EXPERIMENTS["huang-table1"].runs}
    for run in list(huang.values()) + list(EXPERIMENTS["ksup-table2"].runs):
        assert (run.momentum, run.batch_size, run.lr, run.shuffle) == (0.0, 100, 0.1, "once")
    assert (huang["Normal"].epochs, huang["Normal"].milestones) == (50, {30: 0.01})
    assert (huang["Dropout"].epochs, huang["Dropout"].milestones) == (80, {50: 0.01})
    assert huang["Goodfellow"].options == {"radius": 1.5, "alpha": 0.5, "magnitude": "l2"}
    assert (huang["LWA"].epochs, huang["LWA"].milestones) == (85, {50: 0.02})
    generator = EXPERIMENTS["huang-table1"].settings["fixed_from"]
    assert (generator.epochs, generator.milestones, generator.lr) == (30, {}, 0.1)
    assert all(run.epochs == 40 and run.model.endswith("u07")
               for run in EXPERIMENTS["ksup-table2"].runs)
    urn = next(r for r in EXPERIMENTS["ksup-table3"].runs if r.label == "URN")
    assert urn.options == {"radius": 1.7, "noise": "gaussian"}
    shaham = {run.label: run for run in EXPERIMENTS["shaham-table1"].runs}
    assert shaham["Baseline"].model == "shaham-cnn-torch" and shaham["Baseline"].shuffle == "none"
    assert all(r.model == "shaham-cnn-torch-bn" for k, r in shaham.items() if k != "Baseline")


def test_dropout_only_after_the_second_hidden_layer():
    model = nn.build("mlp-200-200-dropout", (1, 28, 28))
    kinds = [layer.kind for layer in model.representation.layers + model.classifier.layers]
    assert kinds == ["flatten", "dense", "relu", "dense", "relu", "dropout", "dense"]


def test_paper_004_and_torch7_initialisations():
    params = nn.build("mlp-400-400-u07", (1, 28, 28)).init(make_rng(0), np.float32)
    assert np.abs(params["dense1.weight"]).max() <= 0.07 and not params["dense1.bias"].any()
    torch = nn.build("shaham-cnn-torch", (1, 32, 32)).init(make_rng(0), np.float32)
    for key, fan_in in (("conv1", 25), ("conv2", 32 * 25), ("dense2", 200)):
        bound = 1 / math.sqrt(fan_in)
        for part in ("weight", "bias"):
            values = torch[f"{key}.{part}"]
            assert np.abs(values).max() <= bound and np.abs(values).max() > 0.8 * bound


def test_run_options_are_translated_in_one_place():
    run = next(r for r in EXPERIMENTS["shaham-table1"].runs if r.label == "Robust linf")
    assert json.loads(json.dumps(run.options)) == run.options  # plain JSON in the cache key
    assert method_arguments(run) == ("robust_lp", {"p": math.inf, "radius": 0.2})


def test_settings_are_printed(capsys):
    text = describe("huang-table1")
    assert "50 at lr 0.1 + 35 at lr 0.02" in text and "order once" in text
    assert "momentum 0" in text and "alpha" in text
    assert main(["reproduce", "ksup-table3", "--settings"]) == 0
    assert "gaussian" in capsys.readouterr().out


def test_fixed_sets_are_keyed_on_every_setting(tmp_path):
    built = []

    def build():
        from refimpl.evaluation import FixedSet  # noqa: PLC0415
        built.append(1)
        return FixedSet(x=np.zeros((1, 2), np.float32), y=np.zeros(1, np.int64),
                        index=np.zeros(1, np.int64), attack=np.array(["adv_loss"]), meta={})

    ctx = Context([0], tmp_path, True, None, data={"train_examples": 60, "test_examples": 20})
    settings = {"generator": "mlp-a", "generator_epochs": 30, "seed": 0, "radius": 1.5}
    ctx.fixed_set("fixed-seed0", settings, build)
    ctx.fixed_set("fixed-seed0", settings, build)
    assert len(built) == 1  # cached
    ctx.fixed_set("fixed-seed0", {**settings, "generator_epochs": 2}, build)
    ctx.data = {"train_examples": 60, "test_examples": 10}
    ctx.fixed_set("fixed-seed0", settings, build)
    ctx.data = {"train_examples": 30, "test_examples": 20}
    ctx.fixed_set("fixed-seed0", settings, build)
    assert len(built) == 4 and len(list(tmp_path.glob("fixed-seed0-*.npz"))) == 4


def test_stage_one_stops_when_the_held_out_error_stops_falling():
    from refimpl.reproduce.two_stage import _stage1_done  # noqa: PLC0415
    stages = {"patience": 2, "max_epochs": 10}
    curve = [{"test_accuracy": a} for a in (0.5, 0.7, 0.8)]
    assert not _stage1_done(curve, stages)
    assert not _stage1_done(curve + [{"test_accuracy": 0.8}], stages)  # a tie is not a fall
    assert _stage1_done(curve + [{"test_accuracy": 0.79}, {"test_accuracy": 0.75}], stages)
    assert _stage1_done([{"test_accuracy": 0.1 * i} for i in range(10)], stages)  # the cap


def test_default_output_is_runs_not_results():
    import inspect  # noqa: PLC0415
    from refimpl.reproduce import reproduce  # noqa: PLC0415
    assert inspect.signature(reproduce).parameters["out"].default == "runs/reproduce"
    from refimpl.cli import build_parser  # noqa: PLC0415
    args = build_parser().parse_args(["reproduce", "huang-table1"])
    assert str(args.out) == "runs/reproduce"


class _Linear:
    """logits = [w.x, -w.x]: a point's l2 distance to the boundary is |w.x| / ||w||."""

    def apply(self, params, x, **_):
        from refimpl import ops  # noqa: PLC0415
        return ops.matmul(x, params["w"])


def test_the_pgd_column_flips_exactly_the_points_within_the_radius():
    from refimpl.reproduce.measure import pgd_accuracy  # noqa: PLC0415
    rng = np.random.default_rng(4)
    w = rng.normal(size=8)
    x = rng.normal(size=(300, 8))
    y = (x @ w < 0).astype(np.int64)  # every point classified correctly
    y[:30] = 1 - y[:30]  # ... except these, which count as errors either way
    distance = np.abs(x @ w) / np.linalg.norm(w)
    radius = float(np.median(distance))
    params = {"w": np.stack([w, -w], axis=1)}
    accuracy = pgd_accuracy(_Linear(), params, x, y, radius=radius, seed=0, batch_size=128)
    safe = (distance >= radius)[30:]
    near = (np.abs(distance - radius) < 0.02 * radius)[30:]  # the start's slack at the edge
    assert safe.sum() - near.sum() <= accuracy * 300 <= safe.sum() + near.sum()

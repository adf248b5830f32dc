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


def test_lyu_table2_runs_and_settings_are_printed(capsys):
    """Paper 003's Table II: the conv maxout net, p = inf at sigma 0.1 and p = 2 at sigma 1, the
    maxout yaml's per-layer max norms, every choice printed by --settings."""
    experiment = EXPERIMENTS["lyu-table2"]
    runs = {run.label: run for run in experiment.runs}
    assert {run.model for run in runs.values()} == {"conv-maxout-48-48-24-dropout"}
    assert runs["Conv. Maxout + dropout"].method == "dropout"
    assert method_arguments(runs["Conv. Maxout + dropout + gradient p = inf"]) == (
        "gradreg", {"sigma": 0.1, "p": math.inf})
    assert runs["Conv. Maxout + dropout + gradient p = 2"].options == {"sigma": 1.0, "p": 2.0}
    assert all((r.lr, r.momentum, r.batch_size) == (0.05, 0.5, 128) for r in runs.values())
    stages = experiment.settings["two_stage"]
    assert stages["max_norm"] == {"conv1.weight": 0.9, "conv2.weight": 1.9365,
                                  "conv3.weight": 1.9365, "dense1.weight": 1.9365}
    assert (stages["held_out"], stages["patience"]) == (1 / 6, 10)
    table4 = EXPERIMENTS["lyu-table4"]
    assert table4.settings["two_stage_by_model"] == {"conv-maxout-48-48-24-dropout": stages}
    assert all(run in table4.runs for run in EXPERIMENTS["lyu-table1"].runs)  # old rows stay
    assert main(["reproduce", "lyu-table2", "--settings"]) == 0
    text = capsys.readouterr().out
    for phrase in ("'sigma': 0.1, 'p': 'inf'", "'conv1.weight': 0.9", "tied_b", "ceil rule",
                   "batch 128, momentum 0.5", "200 at lr 0.05", "dropout off"):
        assert phrase in text, phrase


def test_per_layer_max_norms_hold_after_every_step():
    """fit with a dict of limits (lyu-table2's stages) keeps each named kernel within its own."""
    model = nn.build("conv-maxout-48-48-24-dropout", (1, 28, 28))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(size=(8, 1, 28, 28)).astype(np.float32), np.arange(8) % 10
    limits = {"conv1.weight": 0.01, "dense1.weight": 0.02}  # below the init's norms
    params = model.init(make_rng(0), np.float32)
    result = fit(model, params, (x, y), optimizer=nn.SGD(0.05, momentum=0.5), epochs=1,
                 batch_size=8, method=lambda *a, **k: nn.cross_entropy(
                     model.apply(a[1], a[2], train=True, rng=k["rng"]), a[3]),
                 max_norm_limit=limits, quiet=True)
    conv1 = np.sqrt(np.sum(result.params["conv1.weight"] ** 2, axis=(1, 2, 3)))
    dense1 = np.linalg.norm(result.params["dense1.weight"], axis=0)
    assert np.all(conv1 <= 0.01 * (1 + 1e-5)) and np.all(dense1 <= 0.02 * (1 + 1e-5))
    conv2 = np.sqrt(np.sum(result.params["conv2.weight"] ** 2, axis=(1, 2, 3)))
    assert conv2.max() > 0.02  # not named: not constrained

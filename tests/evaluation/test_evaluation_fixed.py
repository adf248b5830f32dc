"""Fixed adversarial sets: keep="fooled" gives the baseline 0 % and rows only from points it
classified correctly, keep="all" keeps every point, save/load is exact and atomic, and every
damaged file is a ValueError naming it."""

import json
import zipfile

import numpy as np
import pytest
from eval_helpers import linear_problem, mlp_problem

from refimpl.backend import to_numpy
from refimpl.evaluation import (FixedSet, accuracy, build_fixed_set, load_fixed_set, perturb,
                                save_fixed_set, score_fixed_set)

RADII = {"l1": 2.0, "l2": 1.0, "fgsm": 0.3}


def test_fooled_set_scores_zero_on_the_baseline_and_comes_from_correct_points(xp):
    model, params, x, y = mlp_problem(xp)
    fixed = build_fixed_set(model, params, x, y, attacks=list(RADII), radius=RADII, batch_size=7)
    right = np.argmax(to_numpy(model.apply(params, x)), axis=1) == to_numpy(y)
    assert 0 < len(fixed) <= 3 * right.sum()
    assert fixed.x.dtype == np.float64 and fixed.x.shape == (len(fixed), 16)
    assert fixed.y.dtype == fixed.index.dtype == np.int64
    assert right[fixed.index].all()
    np.testing.assert_array_equal(fixed.y, to_numpy(y)[fixed.index])
    assert score_fixed_set(model, params, fixed) == 0.0
    order = {name: i for i, name in enumerate(RADII)}
    assert list(np.vectorize(order.get)(fixed.attack)) == sorted(order[a] for a in fixed.attack)
    for name in RADII:  # each row is that attack's perturbation of its source point
        rows = fixed.attack == name
        x_adv = to_numpy(perturb(model, params, x, y, name, radius=RADII[name]))
        np.testing.assert_allclose(fixed.x[rows], x_adv[fixed.index[rows]], rtol=1e-12)
    assert fixed.meta["keep"] == "fooled" and fixed.meta["radii"] == RADII
    assert fixed.meta["rows"] == {name: int(np.sum(fixed.attack == name)) for name in RADII}


def test_keep_all_moves_every_point_and_scores_on_another_backend(xp):
    model, params, x, y = linear_problem(np, changed=4)
    fixed = build_fixed_set(model, params, x, y, attacks=["l2"], radius=1.5, keep="all",
                            meta={"baseline": "normal net, seed 0"}, clip=None)
    assert len(fixed) == 20 and list(fixed.index) == list(range(20))
    np.testing.assert_allclose(fixed.x, perturb(model, params, x, y, "l2", radius=1.5,
                                                clip=None), rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(fixed.x - x, axis=1), 1.5, rtol=1e-12)
    assert fixed.meta["baseline"] == "normal net, seed 0" and not fixed.meta["only_correct"]
    expected = accuracy(model, params, fixed.x, fixed.y)
    other = {key: xp.asarray(value) for key, value in params.items()}
    assert score_fixed_set(model, other, fixed) == expected
    assert score_fixed_set(model, other, fixed, xp=xp, batch_size=3) == expected


def test_save_load_round_trip_is_exact(tmp_path):
    model, params, x, y = mlp_problem(np)
    fixed = build_fixed_set(model, params, x, y, attacks=list(RADII), radius=RADII)
    path = save_fixed_set(tmp_path / "sets" / "a_mnist.npz", fixed)
    assert path == tmp_path / "sets" / "a_mnist.npz" and list(path.parent.iterdir()) == [path]
    back = load_fixed_set(path)
    for name in ("x", "y", "index", "attack"):
        a, b = getattr(fixed, name), getattr(back, name)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    assert back.meta == fixed.meta
    assert score_fixed_set(model, params, back) == 0.0
    empty = FixedSet(np.zeros((0, 16)), np.zeros(0, np.int64), np.zeros(0, np.int64), [], {})
    assert len(load_fixed_set(save_fixed_set(tmp_path / "empty.npz", empty))) == 0
    assert np.isnan(score_fixed_set(model, params, empty))


def _damaged(tmp_path, good, kind):
    path = tmp_path / f"{kind}.npz"
    entries = {name: good[name] for name in good.files}
    if kind == "text":
        path.write_text("not an archive")
        return path
    if kind == "truncated":
        path.write_bytes(open(tmp_path / "good.npz", "rb").read()[:300])
        return path
    if kind == "missing_key":
        del entries["index"]
    elif kind == "extra_key":
        entries["weights"] = np.zeros(3)
    elif kind == "short_labels":
        entries["y"] = entries["y"][:-1]
    elif kind == "float_index":
        entries["index"] = entries["index"].astype(np.float64)
    elif kind == "bad_json":
        entries["meta"] = np.asarray("{not json")
    elif kind == "format":
        entries["format"] = np.asarray(99)
    elif kind == "pickled":
        entries["attack"] = np.asarray(list(entries["attack"]), dtype=object)
    np.savez(path, **entries)
    return path


@pytest.mark.parametrize("kind", ["missing_file", "text", "truncated", "missing_key", "extra_key",
                                  "short_labels", "float_index", "bad_json", "format", "pickled"])
def test_damaged_files_are_value_errors_naming_the_file(tmp_path, kind):
    model, params, x, y = linear_problem(np)
    good = save_fixed_set(tmp_path / "good.npz",
                          build_fixed_set(model, params, x, y, attacks=["l2"], radius=1.0,
                                          keep="all"))
    if kind == "missing_file":
        path = tmp_path / "nowhere.npz"
    else:
        with np.load(good, allow_pickle=True) as archive:
            path = _damaged(tmp_path, archive, kind)
        assert zipfile.is_zipfile(path) == (kind not in ("text", "truncated"))
    with pytest.raises(ValueError, match=f"fixed set {path}"):
        load_fixed_set(path)


def test_build_and_construct_errors():
    model, params, x, y = linear_problem(np)
    with pytest.raises(ValueError, match="keep: expected 'fooled' or 'all', got 'some'"):
        build_fixed_set(model, params, x, y, attacks=["l2"], radius=1.0, keep="some")
    with pytest.raises(ValueError, match=r"radius: expected a magnitude for every .*\['l1'\]"):
        build_fixed_set(model, params, x, y, attacks=["l2", "l1"], radius={"l2": 1.0})
    with pytest.raises(ValueError, match="attack: expected one of fgsm"):
        build_fixed_set(model, params, x, y, attacks=["clean"], radius=1.0)
    with pytest.raises(ValueError, match="meta: expected JSON-serialisable"):
        build_fixed_set(model, params, x, y, attacks=["l2"], radius=1.0, meta={"x": np.zeros(2)})
    with pytest.raises(ValueError, match=r"y: expected shape \(2,\)"):
        FixedSet(np.zeros((2, 16)), np.zeros(3, np.int64), np.zeros(2, np.int64), ["l2"] * 2, {})
    with pytest.raises(ValueError, match="index: expected rows of the test set"):
        FixedSet(np.zeros((1, 16)), np.zeros(1, np.int64), -np.ones(1, np.int64), ["l2"], {})
    assert json.loads(json.dumps(FixedSet(np.zeros((1, 16)), [0], [0], ["l2"]).meta)) == {}

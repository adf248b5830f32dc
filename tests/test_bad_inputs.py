"""The standard bad inputs fed to every public function of refimpl.nn, refimpl.training (loop,
checkpoint, metrics), refimpl.data and the CLI: each must raise a one-line ValueError or
TypeError (or the error its docstring documents) whose message names the argument.

Table-driven: a row is ``Row(id, call, error, names)``; ``call`` is a function of no arguments
that makes the bad call, ``names`` a text the message must contain (the argument's name). Add
rows for other packages to ``ROWS`` (or build another table and reuse ``check_row``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import array_api_strict
import numpy as np
import pytest

from refimpl import data, nn
from refimpl.backend import make_rng
from refimpl.cli import main
from refimpl.data import transforms
from refimpl.data.pipeline import prepare
from refimpl.training import evaluate, fit, load_checkpoint, predict_logits, save_checkpoint
from refimpl.training.checkpoint import NonFiniteCheckpointError, check_params


@dataclass(frozen=True)
class Row:
    id: str
    call: Callable[[], Any]
    error: type | tuple = (ValueError, TypeError)
    names: str = ""


def check_row(row: Row) -> None:
    """The call raises ``row.error`` with a one-line message containing ``row.names``."""
    with pytest.raises(row.error) as info:
        row.call()
    message = str(info.value)
    assert row.names in message, f"{row.id}: {message!r} does not name {row.names!r}"
    assert "\n" not in message.strip(), f"{row.id}: the message is not one line: {message!r}"


MODEL = nn.build("mlp-100-100", (4,), 3)
PARAMS = MODEL.init(make_rng(0))
X = np.random.default_rng(0).uniform(size=(6, 4)).astype(np.float32)
Y = np.array([0, 1, 2, 0, 1, 2])
IMAGES = np.zeros((2, 1, 8, 8), np.float32)


def _with(x=X, y=Y, **kw):
    """fit on (x, y) with small settings; keywords override."""
    settings = {"optimizer": nn.SGD(0.1), "epochs": 1, "batch_size": 3, "quiet": True, **kw}
    return lambda: fit(MODEL, PARAMS, (x, y), **settings)


def _with_train(train):
    return lambda: fit(MODEL, PARAMS, train, optimizer=nn.SGD(0.1), epochs=1, quiet=True)


def _nan(a):
    a = a.copy()
    a.flat[0] = np.nan
    return a


def _dataset(**kw):
    parts = {"name": "t", "x_train": IMAGES, "y_train": np.array([0, 1]), "x_test": IMAGES,
             "y_test": np.array([1, 0]), "num_classes": 2, **kw}
    return lambda: data.Dataset(**parts)


NN_ROWS = [
    Row("Dense(0)", lambda: nn.Dense(0), names="out_features"),
    Row("Dense(-3)", lambda: nn.Dense(-3), names="out_features"),
    Row("Dense(2.5)", lambda: nn.Dense(2.5), names="out_features"),
    Row("Dense(True)", lambda: nn.Dense(True), names="out_features"),
    Row("Dense(init=nope)", lambda: nn.Dense(3, init="nope"), names="init"),
    Row("Conv2d(0, 3)", lambda: nn.Conv2d(0, 3), names="out_channels"),
    Row("Conv2d(8, 0)", lambda: nn.Conv2d(8, 0), names="kernel_size"),
    Row("Conv2d(8, (3,))", lambda: nn.Conv2d(8, (3,)), names="kernel_size"),
    Row("Conv2d stride 0", lambda: nn.Conv2d(8, 3, stride=0), names="stride"),
    Row("Conv2d padding -1", lambda: nn.Conv2d(8, 3, padding=-1), names="padding"),
    Row("Conv2d kernel larger than input",
        lambda: nn.Conv2d(2, 9).init(make_rng(0), (1, 8, 8), np.float32), names="kernel"),
    Row("Conv2d on flat input", lambda: nn.Conv2d(2, 3).init(make_rng(0), (64,), np.float32),
        names="Conv2d"),
    Row("MaxPool2d(0)", lambda: nn.MaxPool2d(0), names="kernel_size"),
    Row("MaxPool2d stride 0", lambda: nn.MaxPool2d(2, stride=0), names="stride"),
    Row("MaxPool2d on flat input", lambda: nn.MaxPool2d(2).init(None, (64,), np.float32),
        names="MaxPool2d"),
    Row("Dropout(1)", lambda: nn.Dropout(1.0), names="rate"),
    Row("Dropout(-0.1)", lambda: nn.Dropout(-0.1), names="rate"),
    Row("Dropout(nan)", lambda: nn.Dropout(math.nan), names="rate"),
    Row("Dropout('0.5')", lambda: nn.Dropout("0.5"), names="rate"),
    Row("Dropout train without rng",
        lambda: nn.Dropout(0.5).apply({}, X, train=True), names="rng"),
    Row("Maxout(0)", lambda: nn.Maxout(0), names="pieces"),
    Row("Maxout uneven", lambda: nn.Maxout(3).init(None, (4,), np.float32), names="Maxout"),
    Row("Dense on images", lambda: nn.Dense(3).init(make_rng(0), (1, 8, 8), np.float32),
        names="Flatten"),
    Row("Dense weight of another shape",
        lambda: nn.Dense(3).apply({"weight": np.zeros((5, 3)), "bias": np.zeros(3)}, X),
        names="'weight'"),
    Row("Dense bias missing", lambda: nn.Dense(3).apply({"weight": np.zeros((4, 3))}, X),
        names="'bias'"),
    Row("Conv2d weight of another shape",
        lambda: nn.Conv2d(2, 3).apply({"weight": np.zeros((2, 3, 3, 3)), "bias": np.zeros(2)},
                                      IMAGES), names="'weight'"),
    Row("Conv2d on a flat batch",
        lambda: nn.Conv2d(2, 3).apply({"weight": np.zeros((2, 1, 3, 3)), "bias": np.zeros(2)},
                                      X), names="x:"),
    Row("Model.apply with inputs of another shape", lambda: MODEL.apply(PARAMS, IMAGES),
        names="expected inputs (N, 4)"),
    Row("build unknown name", lambda: nn.build("nope", (4,), 3), names="nope"),
    Row("build input_shape int", lambda: nn.build("mlp-100-100", 4, 3), names="input_shape"),
    Row("build input_shape 0", lambda: nn.build("lenet", (1, 0, 28), 10), names="input_shape"),
    Row("build num_classes 1", lambda: nn.build("mlp-100-100", (4,), 1), names="num_classes"),
    Row("piecewise_constant lr -1", lambda: nn.piecewise_constant(-1.0), names="lr"),
    Row("piecewise_constant milestone lr nan",
        lambda: nn.piecewise_constant(0.1, {3: math.nan}), names="milestones"),
    Row("piecewise_constant milestone epoch -1",
        lambda: nn.piecewise_constant(0.1, {-1: 0.01}), names="milestones"),
    Row("uniform(-1)", lambda: nn.uniform(-1.0), names="a must"),
    Row("get_initializer(7)", lambda: nn.get_initializer(7), names="init"),
    Row("SGD lr -1", lambda: nn.SGD(-1.0), names="lr"),
    Row("SGD momentum -1", lambda: nn.SGD(0.1, momentum=-1.0), names="momentum"),
    Row("SGD dampening 2", lambda: nn.SGD(0.1, dampening=2.0), names="dampening"),
    Row("Adam b1 1", lambda: nn.Adam(b1=1.0), names="b1"),
    Row("Adam lr nan", lambda: nn.Adam(math.nan), names="lr"),
    Row("max_norm limit 0", lambda: nn.max_norm(PARAMS, 0.0), names="limit"),
]

TRAINING_ROWS = [
    Row("fit int x", _with(x=np.ones((6, 4), np.int64)), names="train x:"),
    Row("fit float64 x, float32 params", _with(x=X.astype(np.float64)), TypeError, "train x:"),
    Row("fit NaN x", _with(x=_nan(X)), ValueError, "train x:"),
    Row("fit inf x", _with(x=X * np.float32(np.inf)), ValueError, "train x:"),
    Row("fit empty batch", _with(x=X[:0], y=Y[:0]), ValueError, "train:"),
    Row("fit y too short", _with(y=Y[:5]), ValueError, "train:"),
    Row("fit label = K", _with(y=np.array([0, 1, 3, 0, 1, 2])), ValueError, "train y:"),
    Row("fit label < 0", _with(y=np.array([0, 1, -1, 0, 1, 2])), ValueError, "train y:"),
    Row("fit float labels", _with(y=Y + 0.5), TypeError, "train y:"),
    Row("fit one-hot labels", _with(y=np.eye(3)[Y]), (ValueError, TypeError), "train y:"),
    Row("fit bool labels", _with(y=Y > 0), TypeError, "train y:"),
    Row("fit inputs of another shape", _with(x=np.zeros((6, 5), np.float32)), ValueError,
        "train x: expected examples of shape (4,)"),
    Row("fit mixed namespaces", _with(y=array_api_strict.asarray(Y)), TypeError, "train x"),
    Row("fit batch_size 0", _with(batch_size=0), ValueError, "batch_size"),
    Row("fit batch_size 2.0", _with(batch_size=2.0), ValueError, "batch_size"),
    Row("fit epochs -1", _with(epochs=-1), ValueError, "epochs"),
    Row("fit test label out of range", _with(test=(X, np.array([0, 1, 2, 0, 1, 7]))),
        ValueError, "test y:"),
    Row("fit test NaN", _with(test=(_nan(X), Y)), ValueError, "test x:"),
    Row("evaluate label = K", lambda: evaluate(MODEL, PARAMS, X, np.full(6, 3)), ValueError, "y:"),
    Row("evaluate empty", lambda: evaluate(MODEL, PARAMS, X[:0], Y[:0]), ValueError, "x:"),
    Row("evaluate NaN", lambda: evaluate(MODEL, PARAMS, _nan(X), Y), ValueError, "x:"),
    Row("evaluate float64 x", lambda: evaluate(MODEL, PARAMS, X.astype(np.float64), Y),
        TypeError, "x:"),
    Row("evaluate 2-D labels", lambda: evaluate(MODEL, PARAMS, X, Y[:, None]), ValueError, "y:"),
    Row("evaluate batch_size 0", lambda: evaluate(MODEL, PARAMS, X, Y, batch_size=0),
        ValueError, "batch_size"),
    Row("predict_logits batch_size 0", lambda: predict_logits(MODEL, PARAMS, X, batch_size=0),
        ValueError, "batch_size"),
    Row("save_checkpoint NaN parameters",
        lambda: save_checkpoint("/nonexistent/c.npz", {"w": np.array([np.nan])}, None, {}),
        FloatingPointError, "parameters w hold NaN"),
    Row("save_checkpoint params not a dict",
        lambda: save_checkpoint("/nonexistent/c.npz", [np.ones(2)], None, {}), TypeError,
        "params"),
    Row("save_checkpoint meta not a dict",
        lambda: save_checkpoint("/nonexistent/c.npz", {"w": np.ones(2)}, None, [1]), TypeError,
        "meta"),
    Row("save_checkpoint bad opt_state",
        lambda: save_checkpoint("/nonexistent/c.npz", {"w": np.ones(2)}, {"m": 1}, {}),
        TypeError, "opt_state"),
    Row("save_checkpoint into a folder",
        lambda: save_checkpoint("/tmp", {"w": np.ones(2)}, None, {}), ValueError, "path"),
    Row("fit train not a pair", _with_train(X), TypeError, "train:"),
    Row("fit test not a pair", _with(test=X), TypeError, "test:"),
    Row("load_checkpoint missing file", lambda: load_checkpoint("/nonexistent/c.npz"),
        FileNotFoundError, "/nonexistent/c.npz"),
    Row("check_params of another model",
        lambda: check_params(nn.build("mlp-400-400", (4,), 3), PARAMS), ValueError,
        "dense1.weight"),
]
assert NonFiniteCheckpointError.__mro__[1] is FloatingPointError

DATA_ROWS = [
    Row("load unknown name", lambda: data.load("nope"), ValueError, "name: unknown data set 'nope'"),
    Row("prepare bad preprocess", lambda: prepare("digits", preprocess="x"), ValueError,
        "preprocess"),
    Row("prepare subset 0", lambda: prepare("digits", subset=0), ValueError, "subset"),
    Row("Dataset int images", _dataset(x_train=IMAGES.astype(np.int64)), TypeError, "x_train"),
    Row("Dataset float labels", _dataset(y_test=np.array([0.0, 1.0])), TypeError, "y_test"),
    Row("Dataset label = K", _dataset(y_train=np.array([0, 2])), ValueError, "y_train"),
    Row("Dataset label < 0", _dataset(y_test=np.array([-1, 0])), ValueError, "y_test"),
    Row("Dataset num_classes 0", _dataset(num_classes=0), ValueError, "num_classes"),
    Row("pad to a smaller size", lambda: transforms.pad(IMAGES, 4), ValueError, "size"),
    Row("pad of flat data", lambda: transforms.pad(X, 32), ValueError, "x:"),
    Row("pad to 32.5", lambda: transforms.pad(IMAGES, 32.5), ValueError, "size"),
    Row("center_crop to 0", lambda: transforms.center_crop(IMAGES, 0), ValueError, "size"),
    Row("linearly_separable n 2.5", lambda: data.linearly_separable(2.5, 2, margin=0.1, seed=0),
        ValueError, "n=2.5"),
    Row("linearly_separable margin nan",
        lambda: data.linearly_separable(4, 2, margin=math.nan, seed=0), ValueError, "margin"),
    Row("center_crop larger", lambda: transforms.center_crop(IMAGES, 16), ValueError, "size"),
    Row("to_grayscale of grey images", lambda: transforms.to_grayscale(IMAGES), ValueError, "x:"),
    Row("standardize std 0", lambda: transforms.standardize(IMAGES, 0.0, 0.0), ValueError, "std"),
    Row("rescale empty source", lambda: transforms.rescale(IMAGES, (1.0, 1.0), (0.0, 1.0)),
        ValueError, "source"),
    Row("linearly_separable n 0", lambda: data.linearly_separable(0, 2, margin=0.1, seed=0),
        ValueError, "n=0"),
    Row("linearly_separable margin -1", lambda: data.linearly_separable(10, 2, margin=-1.0,
                                                                       seed=0), ValueError,
        "margin"),
    Row("gaussian_blobs num_classes 0", lambda: data.gaussian_blobs(10, 2, 0, seed=0),
        ValueError, "num_classes"),
    Row("blob_images n_train 0", lambda: data.blob_images(0, 2), ValueError, "n_train"),
    Row("fetch of an unsupported scheme", lambda: data.fetch("ftp://x/y", "/tmp/refimpl-y"),
        ValueError, "url"),
]

ROWS = NN_ROWS + TRAINING_ROWS + DATA_ROWS


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_is_a_clear_error(row):
    check_row(row)


# The CLI: argv -> a usage error (exit status 2) whose message names the option.
CLI_ROWS = [
    (["train", "--epochs", "-1"], "--epochs"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--subset", "0"], "--subset"),
    (["train", "--lr", "-0.1"], "--lr"),
    (["train", "--lr", "inf"], "--lr"),
    (["train", "--momentum", "1.5"], "--momentum"),
    (["train", "--weight-decay", "-1"], "--weight-decay"),
    (["train", "--max-norm", "0"], "--max-norm"),
    (["train", "--radius", "-1"], "--radius"),
    (["train", "--radius", "nan"], "--radius"),
    (["train", "--k", "x"], "--k"),
    (["train", "--k", "2.0"], "--k"),
    (["train", "--k", "0"], "--k"),
    (["train", "--k", "-0.5"], "--k"),
    (["train", "--seed", "-1"], "--seed"),
    (["train", "--dataset", "imagenet"], "--dataset"),
    (["train", "--epochs", "1.5"], "--epochs"),
    (["gradcheck", "--rtol", "-1"], "--rtol"),
    (["gradcheck", "--order", "0"], "--order"),
    (["gradcheck", "--backend", "tensorflow"], "--backend"),
    (["evaluate"], "checkpoint"),
    (["reproduce", "nope"], "NAME"),
    (["reproduce", "huang-table1", "--seeds", "0", "-1"], "--seeds"),
    (["reproduce", "huang-table1", "--epochs", "-2"], "--epochs"),
    (["reproduce", "huang-table1", "--test-subset", "0"], "--test-subset"),
]


@pytest.mark.parametrize("argv, names", CLI_ROWS, ids=[" ".join(a) for a, _ in CLI_ROWS])
def test_bad_command_line_is_a_usage_error_naming_the_option(argv, names, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert names in err and "Traceback" not in err


@pytest.mark.parametrize("argv, names", [
    (["train", "--method", "lwa", "--k", "3", "--epochs", "0"], "k"),
    (["train", "--lr-milestones", "3-0.1", "--epochs", "0"], "--lr-milestones"),
])
def test_bad_option_values_found_by_the_command_name_it(argv, names, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "r"), "--quiet", "--subset", "8"]) == 2
    err = capsys.readouterr().err
    assert names in err and "Traceback" not in err and len(err.strip().splitlines()) == 1

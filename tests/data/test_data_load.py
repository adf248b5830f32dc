"""``load`` dispatch, ``data_dir``, and the checks of the :class:`Dataset` container."""

import dataclasses
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import refimpl.data as data
from refimpl.data import Dataset, data_dir, load


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError) as err:
        load("imagenet")
    for name in ("imagenet", "digits", "mnist", "cifar10", "stl10"):
        assert name in str(err.value)


def test_data_dir_from_environment_or_home_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("REFIMPL_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.delenv("REFIMPL_DATA")
    assert data_dir() == pathlib.Path.home() / ".cache" / "refimpl"


@pytest.mark.parametrize("name", ["mnist", "cifar10", "stl10"])
def test_missing_data_in_the_default_folder_is_file_not_found(monkeypatch, tmp_path, name):
    monkeypatch.setenv("REFIMPL_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="download=True") as err:
        load(name)
    assert str(tmp_path / name) in str(err.value)


def _arrays(n=3, shape=(1, 2, 2)):
    return np.zeros((n, *shape), np.float32), np.zeros(n, np.int64)


def test_dataset_holds_and_describes_its_arrays():
    x, y = _arrays()
    ds = Dataset("toy", x, y, x[:2], y[:2], 2, {"source": "test"})
    assert ds.input_shape == (1, 2, 2)
    assert "toy" in repr(ds) and "train=3" in repr(ds) and "test=2" in repr(ds)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"


@pytest.mark.parametrize("change, error", [
    ({"x_train": np.zeros((3, 1, 2, 2), np.float64)}, "float32"),
    ({"x_train": np.zeros((3, 4), np.float32)}, r"\(N, C, H, W\)"),
    ({"y_test": np.zeros(2, np.int32)}, "int64"),
    ({"y_train": np.zeros(4, np.int64)}, r"shaped \(3,\)"),
    ({"x_test": np.zeros((2, 1, 3, 3), np.float32)}, "differ in shape"),
])
def test_dataset_refuses_wrong_arrays(change, error):
    x, y = _arrays()
    fields = {"name": "toy", "x_train": x, "y_train": y, "x_test": x[:2], "y_test": y[:2],
              "num_classes": 2, **change}
    with pytest.raises((TypeError, ValueError), match=error):
        Dataset(**fields)


def test_public_api_is_exported():
    for name in data.__all__:
        assert hasattr(data, name), name


def test_importing_refimpl_data_stays_light():
    code = ("import json, sys, refimpl.data; "
            "print(json.dumps(sorted({m.partition('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=pathlib.Path(__file__).resolve().parents[2])
    loaded = set(json.loads(out.stdout))
    assert "refimpl" in loaded
    assert not loaded & {"sklearn", "cupy", "matplotlib"}  # scikit-learn only when digits load

"""Checkpoints: exact round trips, atomic writes, and clear errors (never an unpickling) for
files that are missing, truncated, corrupt or not refimpl checkpoints."""

import io
import math
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_namespace

from refimpl.backend import to_numpy
from refimpl.training import load_checkpoint, save_checkpoint
from refimpl.training.checkpoint import FORMAT_VERSION

META = {"model": "lenet", "seed": 3, "lr": 0.1, "history": [{"epoch": 1, "train_loss": 0.25}],
        "shape": [1, 28, 28], "note": "α ≠ β", "flag": True, "nothing": None}


def _state(xp=np):
    rng = np.random.default_rng(0)
    params = {"conv1.weight": rng.normal(size=(2, 1, 3, 3)).astype(np.float32),
              "conv1.bias": np.zeros(2, dtype=np.float32),
              "dense1.weight": rng.normal(size=(8, 3)),  # float64 beside float32
              "dense1.bias": np.array([1e-300, -0.0, np.pi])}
    slots = {"m": {k: v * 0.5 for k, v in params.items()},
             "v": {k: v * v for k, v in params.items()}}
    convert = lambda tree: {k: xp.asarray(v) for k, v in tree.items()}  # noqa: E731
    return convert(params), {"step": 7, "slots": {s: convert(t) for s, t in slots.items()}}


def _assert_same(loaded, saved):
    assert list(loaded) == list(saved)
    for key in saved:
        assert to_numpy(loaded[key]).dtype == to_numpy(saved[key]).dtype, key
        np.testing.assert_array_equal(to_numpy(loaded[key]), to_numpy(saved[key]), err_msg=key)
        assert to_numpy(loaded[key]).tobytes() == to_numpy(saved[key]).tobytes()  # -0.0 too


def test_round_trip(tmp_path, xp):
    params, opt_state = _state(xp)
    path = save_checkpoint(tmp_path / "run.npz", params, opt_state, META)
    assert path == tmp_path / "run.npz"
    loaded, loaded_state, meta = load_checkpoint(path, xp)
    _assert_same(loaded, params)
    assert loaded_state["step"] == 7 and sorted(loaded_state["slots"]) == ["m", "v"]
    for slot in ("m", "v"):
        _assert_same(loaded_state["slots"][slot], opt_state["slots"][slot])
    for value in [*loaded.values(), *loaded_state["slots"]["m"].values()]:
        assert_namespace(value, xp)
    assert meta == {**META, "format": FORMAT_VERSION, "opt_step": 7}


def test_numpy_by_default_and_no_optimizer_state(tmp_path):
    params, _ = _state()
    save_checkpoint(tmp_path / "c.npz", params, None, {})
    loaded, opt_state, meta = load_checkpoint(tmp_path / "c.npz")
    assert all(isinstance(v, np.ndarray) for v in loaded.values())
    _assert_same(loaded, params)
    assert opt_state == {"step": 0, "slots": {}} and meta["opt_step"] == 0


def test_layout_is_plain_arrays(tmp_path):
    """The documented layout: param/<key>, opt/<slot>/<key> and a 0-d string meta, no pickles."""
    params, opt_state = _state()
    save_checkpoint(tmp_path / "c.npz", params, opt_state, META)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(
            ["meta"] + [f"param/{k}" for k in params]
            + [f"opt/{s}/{k}" for s in ("m", "v") for k in params])
        assert archive["meta"].shape == () and json.loads(str(archive["meta"]))["seed"] == 3


def test_overwrite_leaves_no_temporary_files(tmp_path):
    params, opt_state = _state()
    save_checkpoint(tmp_path / "c.npz", params, opt_state, {"epoch": 1})
    save_checkpoint(tmp_path / "c.npz", params, opt_state, {"epoch": 2})
    assert os.listdir(tmp_path) == ["c.npz"]
    assert load_checkpoint(tmp_path / "c.npz")[2]["epoch"] == 2


def test_nested_folders_are_created(tmp_path):
    params, _ = _state()
    save_checkpoint(tmp_path / "a" / "b" / "c.npz", params, None, {})
    assert os.listdir(tmp_path / "a" / "b") == ["c.npz"]


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()], ids=repr)
def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, error):
    params, opt_state = _state()
    path = tmp_path / "c.npz"
    save_checkpoint(path, params, opt_state, {"epoch": 1})
    good = path.read_bytes()

    def savez_then_fail(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")  # something was written before the failure
        raise error
    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(type(error)):
        save_checkpoint(path, {k: v + 1 for k, v in params.items()}, opt_state, {"epoch": 2})
    assert os.listdir(tmp_path) == ["c.npz"]
    assert path.read_bytes() == good
    assert load_checkpoint(path)[2]["epoch"] == 1


def test_a_failed_rename_leaves_no_temporary_file(tmp_path, monkeypatch):
    params, _ = _state()
    save_checkpoint(tmp_path / "c.npz", params, None, {"epoch": 1})

    def no_rename(src, dst):
        raise PermissionError("read-only target")
    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(PermissionError):
        save_checkpoint(tmp_path / "c.npz", params, None, {"epoch": 2})
    assert os.listdir(tmp_path) == ["c.npz"]
    assert load_checkpoint(tmp_path / "c.npz")[2]["epoch"] == 1


def test_unserialisable_meta_keeps_the_previous_checkpoint(tmp_path):
    params, _ = _state()
    save_checkpoint(tmp_path / "c.npz", params, None, {"epoch": 1})
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "c.npz", params, None, {"epoch": object()})
    assert os.listdir(tmp_path) == ["c.npz"]
    assert load_checkpoint(tmp_path / "c.npz")[2]["epoch"] == 1


# ---- files that are not good checkpoints -----------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        load_checkpoint(tmp_path / "nothing.npz")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path)  # a folder is not a checkpoint file


def _good_bytes(tmp_path):
    params, opt_state = _state()
    return save_checkpoint(tmp_path / "good.npz", params, opt_state, META).read_bytes()


@pytest.mark.parametrize("keep", [0, 10, 0.5, -22, -1])
def test_truncated_file(tmp_path, keep):
    data = _good_bytes(tmp_path)
    keep = int(len(data) * keep) if isinstance(keep, float) else keep
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:keep] if keep >= 0 else data[:len(data) + keep])
    with pytest.raises(ValueError, match="cut.npz"):
        load_checkpoint(path)


def test_garbage_bytes(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(ValueError, match="junk.npz"):
        load_checkpoint(path)
    path.write_text("epoch 3, loss 0.1\n")
    with pytest.raises(ValueError, match="junk.npz"):
        load_checkpoint(path)


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _meta(**meta):
    return np.asarray(json.dumps({"format": FORMAT_VERSION, "opt_step": 0, **meta}))


@pytest.mark.parametrize("arrays, match", [
    (dict(weights=np.ones(3)), "no 'meta'"),
    (dict(meta=np.asarray("not json {")), "not valid JSON"),
    (dict(meta=np.asarray(json.dumps({"format": 99, "opt_step": 0}))), "format 99"),
    (dict(meta=np.asarray(json.dumps({"opt_step": 0}))), "format None"),
    (dict(meta=_meta(), **{"stray": np.ones(2)}), "unexpected entry 'stray'"),
], ids=["no-meta", "bad-json", "future-format", "no-format", "stray-entry"])
def test_npz_that_is_not_a_checkpoint(tmp_path, arrays, match):
    path = _npz(tmp_path / "other.npz", **arrays)
    with pytest.raises(ValueError, match=match) as info:
        load_checkpoint(path)
    assert "other.npz" in str(info.value)


class _Tripwire:
    """Unpickling this creates a file: proof that a loader ran pickle."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@pytest.mark.parametrize("where", ["param/w", "meta"])
def test_pickled_objects_are_never_loaded(tmp_path, where):
    tripwire = tmp_path / "unpickled"
    arrays = {"meta": _meta(), "param/w": np.ones(2)}
    arrays[where] = np.array([_Tripwire(tripwire)], dtype=object)
    path = _npz(tmp_path / "evil.npz", **arrays)
    with pytest.raises(ValueError, match="evil.npz"):
        load_checkpoint(path)
    assert not tripwire.exists()
    np.load(path, allow_pickle=True)[where]  # the tripwire works: loading with pickle fires it
    assert tripwire.exists()


def test_npy_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as f:
        np.save(f, np.arange(3))
    with pytest.raises(ValueError, match="array.npz"):
        load_checkpoint(path)


@pytest.mark.parametrize("meta", ["[1, 2]", "3.5", json.dumps({"format": FORMAT_VERSION})])
def test_meta_of_the_wrong_shape(tmp_path, meta):
    path = _npz(tmp_path / "odd.npz", meta=np.asarray(meta))
    with pytest.raises(ValueError, match="odd.npz"):
        load_checkpoint(path)


def _patch_central_directory(data, offset, value):
    """Overwrite one little-endian uint16 field of the first central-directory header."""
    at = data.index(b"PK\x01\x02") + offset
    return data[:at] + struct.pack("<H", value) + data[at + 2:]


@pytest.mark.parametrize("offset, value", [(8, 0x0001), (6, 0x00FF)],
                         ids=["encrypted-flag", "zip-version"])
def test_corrupt_zip_headers(tmp_path, offset, value):
    path = tmp_path / "flipped.npz"
    path.write_bytes(_patch_central_directory(_good_bytes(tmp_path), offset, value))
    with pytest.raises(ValueError, match="flipped.npz"):
        load_checkpoint(path)


def test_corrupt_data_fails_its_crc(tmp_path):
    data = bytearray(_good_bytes(tmp_path))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("param/conv1.weight.npy")
    # the member's data starts after its 30-byte local header, name and extra field
    at = info.header_offset
    name_len, extra_len = struct.unpack("<HH", data[at + 26:at + 30])
    data[at + 30 + name_len + extra_len + info.file_size - 1] ^= 0xFF
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="flipped.npz"):
        load_checkpoint(path)


def test_checkpoint_gets_the_usual_file_mode(tmp_path):
    import os
    mask = os.umask(0o022)
    try:
        path = save_checkpoint(tmp_path / "mode.npz", {"w": np.zeros(2)}, None, {})
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_parameters_are_never_saved(tmp_path, bad):
    from refimpl.training.checkpoint import NonFiniteCheckpointError
    params, opt_state = _state()
    path = save_checkpoint(tmp_path / "c.npz", params, opt_state, {**META, "epoch": 3})
    before = path.read_bytes()
    params["dense1.weight"] = params["dense1.weight"].copy()
    params["dense1.weight"][2, 1] = bad
    with pytest.raises(NonFiniteCheckpointError, match=r"after epoch 4: parameters dense1\.weight"):
        save_checkpoint(path, params, opt_state, {**META, "epoch": 4})
    assert path.read_bytes() == before and not list(tmp_path.glob("*.tmp"))


def test_a_non_finite_test_loss_is_never_saved(tmp_path):
    from refimpl.training.checkpoint import NonFiniteCheckpointError
    params, opt_state = _state()
    history = [{"epoch": 1, "train_loss": 0.3, "test_loss": float("nan")}]
    with pytest.raises(NonFiniteCheckpointError, match="test_loss is nan"):
        save_checkpoint(tmp_path / "c.npz", params, opt_state, {**META, "history": history})
    assert not (tmp_path / "c.npz").exists()
    assert isinstance(NonFiniteCheckpointError("x"), FloatingPointError)


def test_temporaries_of_a_killed_writer_are_removed_on_the_next_save(tmp_path):
    params, opt_state = _state()
    old, fresh = tmp_path / "c.npz.dead1234.tmp", tmp_path / "c.npz.live5678.tmp"
    other = tmp_path / "other.npz.dead.tmp"
    for path in (old, fresh, other):
        path.write_bytes(b"half")
    os.utime(old, (1e9, 1e9))  # 2001: older than this process
    os.utime(other, (1e9, 1e9))
    save_checkpoint(tmp_path / "c.npz", params, opt_state, META)
    assert not old.exists()
    assert fresh.exists() and other.exists()  # a concurrent writer's file, another target's


def test_write_text_is_atomic(tmp_path, monkeypatch):
    from refimpl.training.checkpoint import write_text
    path = write_text(tmp_path / "m.json", '{"a": 1}')
    assert json.loads(path.read_text()) == {"a": 1}

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_text(path, '{"a": 2}')
    assert json.loads(path.read_text()) == {"a": 1} and not list(tmp_path.glob("*.tmp"))


def test_check_params_matches_parameters_against_their_model():
    from refimpl import nn
    from refimpl.backend import make_rng
    from refimpl.training.checkpoint import check_params
    model = nn.build("mlp-100-100", (1, 8, 8), 10)
    params = model.init(make_rng(0))
    check_params(model, params)  # fits: no error
    other = nn.build("mlp-400-400", (1, 8, 8), 10).init(make_rng(0))
    with pytest.raises(ValueError, match=r"parameter dense1\.weight has shape \(64, 400\)"):
        check_params(model, other, source="checkpoint x.npz")
    with pytest.raises(ValueError, match="missing dense3.bias"):
        check_params(model, {k: v for k, v in params.items() if k != "dense3.bias"})
    with pytest.raises(ValueError, match="unexpected extra.weight"):
        check_params(model, {**params, "extra.weight": params["dense1.bias"]})


def test_a_diverging_fit_never_writes_a_non_finite_checkpoint(tmp_path):
    """The issue's reproduction in the library: lr 1e30 from epoch 4; the last update of an
    epoch and its test loss are checked before the checkpoint is written."""
    from refimpl import nn
    from refimpl.backend import make_rng
    from refimpl.training import fit
    from refimpl.training.checkpoint import NonFiniteCheckpointError
    from refimpl.training.loop import NonFiniteLossError
    model = nn.build("mlp-100-100", (8,), 3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 8)).astype(np.float32)
    y = np.arange(32) % 3
    path = tmp_path / "c.npz"
    with np.errstate(all="ignore"), pytest.raises((NonFiniteCheckpointError, NonFiniteLossError)):
        fit(model, model.init(make_rng(0)), (x, y), test=(x, y), optimizer=nn.SGD(0.05),
            epochs=8, batch_size=32, quiet=True, checkpoint=path,
            schedule=nn.piecewise_constant(0.05, {3: 1e30}))
    params, _, meta = load_checkpoint(path)
    assert meta["epoch"] == 3
    assert all(np.isfinite(v).all() for v in params.values())
    assert all(math.isfinite(r["test_loss"]) for r in meta["history"])

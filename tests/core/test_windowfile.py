"""WindowSet carries its spec; save_windows/load_windows round-trip without pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinyhar.core.windowfile import load_windows, save_windows
from tinyhar.core.windowset import WindowSet
from tinyhar.errors import DataFormatError


def _windows(hop=64) -> WindowSet:
    rng = np.random.default_rng(0)
    return WindowSet(
        rng.normal(size=(5, 128, 6)).astype(np.float32),
        np.array(["walk", "sit", "walk", "stand", "sit"], dtype=object),
        ["1", "1", "2", "10", "10"], ["s1", "s1", "s2", "s3", "s3"],
        np.arange(5) * 1.28, ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"],
        50.0, ["walk", "sit", "stand"], name="toy", hop_samples=hop,
    )


def test_the_windows_carry_their_spec():
    w = _windows()
    assert w.spec.n_samples == 128 and w.spec.hop_samples == 64 and w.spec.streaming_hop == 64
    assert w.spec.units == ("g", "g", "g", "rad/s", "rad/s", "rad/s")
    assert w.subset(np.array([0, 2])).spec == w.spec
    sel = w.select_channels(["gyro_z", "acc_x"])
    assert sel.spec.channels == ("gyro_z", "acc_x") and sel.spec.units == ("rad/s", "g")
    assert _windows(hop=None).spec.streaming_hop == 64  # pre-cut: half a window


def test_select_channels_copies_only_what_changes():
    w = _windows()
    w.split = np.array(["train", "test", "train", "test", "test"], dtype=object)
    sel = w.select_channels(["gyro_z", "acc_x"])
    np.testing.assert_array_equal(sel.X, w.X[:, :, [5, 0]])
    assert sel.X.flags.c_contiguous and not np.shares_memory(sel.X, w.X)
    same = w.select_channels(w.channels)  # already these channels: X is not copied
    assert same.X is w.X and same.channels == w.channels and same.channels is not w.channels
    for key in ("y", "subject", "session", "start_time", "split"):  # the rest is its own
        assert list(getattr(same, key)) == list(getattr(w, key))
        assert getattr(same, key) is not getattr(w, key)
    same.y[0] = "stand"
    same.info["x"] = 1
    assert w.y[0] == "walk" and "x" not in w.info


def test_round_trip(tmp_path):
    w = _windows()
    w.split = np.array(["train", "test", "train", "test", "test"], dtype=object)
    path = save_windows(w, tmp_path / "w.npz")
    back = load_windows(path)
    np.testing.assert_array_equal(back.X, w.X)
    assert back.X.dtype == np.float32
    for key in ("y", "subject", "session", "split"):
        assert list(getattr(back, key)) == list(getattr(w, key))
    np.testing.assert_array_equal(back.start_time, w.start_time)
    assert (back.spec, back.classes, back.name) == (w.spec, w.classes, w.name)


def test_a_file_is_plain_arrays(tmp_path):
    path = save_windows(_windows(), tmp_path / "w.npz")
    with np.load(path, allow_pickle=False) as npz:  # would raise on an object array
        assert {k: npz[k].dtype.kind for k in npz.files} == {
            "X": "f", "y": "U", "subject": "U", "session": "U", "start_time": "f", "meta": "U"}


def _rewrite(path, change):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"][()]))
    change(arrays, meta)
    arrays["meta"] = np.asarray(json.dumps(meta))
    np.savez_compressed(path, **arrays)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a, m: m.update(format_version=2), "format version 2"),
        (lambda a, m: m.update(format="other"), "not a tinyhar-windows file"),
        (lambda a, m: a.pop("y"), r"arrays \['y'\] are missing"),
        (lambda a, m: a.update(X=a["X"][:, :64]), "the spec says float32"),
        (lambda a, m: a.update(X=a["X"].astype(np.float64)), "the spec says float32"),
        (lambda a, m: m["spec"].update(units=["g"] * 6), "differ from the channels' units"),
        (lambda a, m: a.update(subject=a["subject"][:2]), "subject has 2 entries"),
    ],
)
def test_bad_files_are_refused(tmp_path, change, match):
    path = save_windows(_windows(), tmp_path / "w.npz")
    _rewrite(path, change)
    with pytest.raises(DataFormatError, match=match):
        load_windows(path)


def test_not_a_window_file(tmp_path):
    path = tmp_path / "w.npz"
    path.write_bytes(b"garbage")
    with pytest.raises(DataFormatError, match="not a readable window file"):
        load_windows(path)

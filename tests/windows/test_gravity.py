"""The gravity reference: per (subject, class) sums of the windows' mean acceleration."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinyhar.core.windowset import WindowSet
from tinyhar.windows.gravity import GravitySums, gravity_reference, standing_class

CHANNELS = ["gyro_x", "acc_z", "gyro_y", "acc_x", "acc_y", "gyro_z"]  # acc not first, not in order


def _windows(acc_xyz, labels, subjects, n_samples=16, classes=("WALKING", "STANDING")):
    """Windows whose every sample reads ``acc_xyz[i]`` (g) in window ``i``; gyro noise."""
    acc = np.asarray(acc_xyz, np.float32)
    n = len(acc)
    X = np.random.default_rng(0).normal(size=(n, n_samples, len(CHANNELS))).astype(np.float32)
    for k, axis in enumerate(("acc_x", "acc_y", "acc_z")):
        X[:, :, CHANNELS.index(axis)] = acc[:, k, None]
    return WindowSet(X, np.asarray(labels, object), np.asarray(subjects, object),
                     np.asarray(subjects, object), np.arange(n) * 1.0, CHANNELS, 50.0,
                     list(classes), "test")


def test_constant_windows_give_exactly_their_acceleration():
    """Values exact in binary: the sums and the reference are exact, axes by name; only the
    classes that may be the standing class are summed."""
    w = _windows([[0.5, -0.25, 0.75]] * 3 + [[1.0, 0.0, 0.0]] * 2 + [[0.25, 0.5, -1.0]],
                 ["STANDING"] * 3 + ["WALKING"] * 2 + ["STANDING"],
                 ["s1"] * 5 + ["s2"])
    sums = GravitySums.of(w)
    assert set(sums.sums) == {("s1", "STANDING"), ("s2", "STANDING")}
    assert sums.sums[("s1", "STANDING")].tolist() == [1.5, -0.75, 2.25, 3.0]
    assert sums.sums[("s2", "STANDING")].tolist() == [0.25, 0.5, -1.0, 1.0]
    assert len(sums) == 4
    ref = gravity_reference(w)
    assert ref == {"gravity_g": [0.4375, -0.0625, 0.3125], "class": "STANDING", "n_windows": 4,
                   "tolerance_deg": 30.0}
    # the training subjects only
    assert gravity_reference(w, ["s1"])["gravity_g"] == [0.5, -0.25, 0.75]
    assert gravity_reference(w, ["s2"])["n_windows"] == 1
    assert gravity_reference(w, ["s3"]) is None  # no standing window of theirs


def test_sums_gathered_in_parts_equal_those_of_all_windows():
    """Session by session (in chunks, merged) as out of core: the same counts, the same sums
    up to float64 summation order (documented tolerance: 1e-4 g after 4-decimal rounding)."""
    rng = np.random.default_rng(4)
    n = 300
    acc = rng.normal([1.0, -0.1, 0.05], 0.2, size=(n, 3))
    labels = rng.choice(["STANDING", "WALKING", "SIT_TO_STAND"], n)
    subjects = np.repeat([f"s{i}" for i in range(5)], n // 5)
    w = _windows(acc, labels, subjects, classes=("WALKING", "SIT_TO_STAND", "STANDING"))
    whole = GravitySums.of(w)
    parts = GravitySums()
    for cut in np.array_split(np.arange(n), [7, 8, 100, 180, 181]):
        part = GravitySums()
        part.add(w.subset(cut))
        parts.update(part)
    assert parts.sums.keys() == whole.sums.keys() and len(whole.sums) == 10
    for key, total in whole.sums.items():
        assert parts.sums[key][3] == total[3]
        np.testing.assert_allclose(parts.sums[key][:3], total[:3], rtol=1e-12, atol=1e-12)
    a, b = whole.reference(w.classes), parts.reference(w.classes)
    assert a["n_windows"] == b["n_windows"] == int(np.sum(labels == "STANDING"))
    np.testing.assert_allclose(a["gravity_g"], b["gravity_g"], atol=1e-4)
    # the mean of the window means is the mean of the samples (equal lengths)
    X = w.X[labels == "STANDING"][:, :, [CHANNELS.index(f"acc_{a}") for a in "xyz"]]
    np.testing.assert_allclose(a["gravity_g"], np.round(X.astype(np.float64).mean(axis=(0, 1)),
                                                         4), atol=1e-4)
    # merging does not change the part merged in
    before = part.sums[next(iter(part.sums))].copy()
    parts.update(part)
    assert np.array_equal(part.sums[next(iter(part.sums))], before)


def test_records_round_trip_through_json_exactly():
    w = _windows(np.random.default_rng(1).normal(1.0, 0.3, (40, 3)),
                 ["STANDING", "WALKING"] * 20, ["a"] * 15 + ["b"] * 25)
    sums = GravitySums.of(w)
    back = GravitySums.from_records(json.loads(json.dumps(sums.to_records())))
    assert back == sums and back.reference(w.classes) == sums.reference(w.classes)
    with pytest.raises(ValueError):
        GravitySums.from_records([["a", "STANDING", 1.0, 2.0]])


def test_no_reference_without_accelerometer_axes_or_standing_windows():
    w = _windows([[1.0, 0.0, 0.0]] * 4, ["WALKING"] * 4, ["s1"] * 4)
    assert gravity_reference(w) is None  # no standing window
    assert gravity_reference(w.subset(np.arange(0))) is None
    gyro = w.select_channels(["gyro_x", "gyro_y", "gyro_z"])
    assert GravitySums.of(gyro) is None and gravity_reference(gyro) is None
    with pytest.raises(ValueError, match="acc_x, acc_y, acc_z"):
        GravitySums().add(gyro)
    assert GravitySums.of(w).reference(["WALKING", "RUNNING"]) is None  # no standing class


def test_the_standing_class_is_not_a_transition_whatever_the_order():
    """HAPT's labels sorted put LIE_TO_STAND and SIT_TO_STAND before STANDING."""
    hapt = ["LAYING", "LIE_TO_SIT", "LIE_TO_STAND", "SITTING", "SIT_TO_LIE", "SIT_TO_STAND",
            "STANDING", "STAND_TO_LIE", "STAND_TO_SIT", "WALKING"]
    assert standing_class(hapt) == standing_class(hapt[::-1]) == "STANDING"
    assert standing_class(["walk", "Stand still", "sit"]) == "Stand still"
    assert standing_class(["SIT_TO_STAND", "WALKING"]) == "SIT_TO_STAND"  # only a transition
    assert standing_class(["WALKING", "SITTING"]) is None
    # classes left empty: the labels summed
    w = _windows([[1.0, 0.0, 0.0]] * 2 + [[0.0, 1.0, 0.0]], ["LIE_TO_STAND"] * 2 + ["STANDING"],
                 ["s1"] * 3, classes=())
    assert gravity_reference(w)["gravity_g"] == [0.0, 1.0, 0.0]


def test_hapt_reference_equals_the_mean_over_the_samples():
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(load_bundled_hapt().select(subjects=["1", "3"]), window=128,
                              hop=64, unit="samples")
    mask = windows.y == "STANDING"
    cols = [windows.channels.index(f"acc_{a}") for a in "xyz"]
    expected = windows.X[mask][:, :, cols].astype(np.float64).mean(axis=(0, 1))
    ref = gravity_reference(windows)
    assert ref["n_windows"] == int(mask.sum())
    np.testing.assert_allclose(ref["gravity_g"], np.round(expected, 4), atol=1e-4)
    one = gravity_reference(windows, ["1"])
    assert one["n_windows"] == int(np.sum(mask & (windows.subject == "1")))

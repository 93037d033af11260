"""Mounting: board axes mapped onto the training axes, checked with gravity while standing.

The live app is run in the MicroPython unix port on a replayed HAPT recording
whose axes were swapped as a board worn another way would read them: with the
right mounting it classifies every window as on the original recording; with
a wrong one its standing check names the axis that is off.
"""

from __future__ import annotations

import importlib.util
import itertools
import json

import numpy as np
import pytest

from tinyhar.errors import ConfigError, TinyharError
from tinyhar.export import micropython as mpx
from tinyhar.export.mounting import (
    MOUNTING_FILE,
    MOUNTING_PRESETS,
    gravity_reference,
    parse_mounting,
    set_bundle_mounting,
    write_mounting,
)

CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]


def _rotations() -> list[str]:
    """The 24 proper rotations among the 48 signed permutations of the axes, as specs."""
    out = []
    for perm in itertools.permutations("xyz"):
        for signs in itertools.product(("", "-"), repeat=3):
            spec = ",".join(f"{a}={s}{b}" for a, s, b in zip("xyz", signs, perm, strict=True))
            m = np.array([[(-1 if s else 1) * (b == c) for c in "xyz"]
                          for s, b in zip(signs, perm, strict=True)])
            if np.linalg.det(m) > 0:
                out.append(spec)
    return out


ROTATIONS = _rotations()


def _device_module():
    """tinyhar_mounting.py (plain Python: it also runs in CPython)."""
    spec = importlib.util.spec_from_file_location(
        "tinyhar_mounting", mpx._mpy_source_dir() / "tinyhar_mounting.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parse_presets_and_errors():
    m = parse_mounting("x=-y, y=x, z=z")
    assert m.source == (1, 0, 2) and m.sign == (-1, 1, 1) and m.spec() == "x=-y,y=x,z=z"
    np.testing.assert_array_equal(m.matrix, [[0, -1, 0], [1, 0, 0], [0, 0, 1]])
    assert parse_mounting("identity").spec() == "x=x,y=y,z=z"
    assert parse_mounting("M5StickC-PLUS2-waist").spec() == MOUNTING_PRESETS[
        "m5stickc-plus2-waist"]
    assert len(ROTATIONS) == 24  # the proper rotations among the 48 signed permutations
    for bad, message in [("x=y,y=y,z=z", "each board axis must be used once"),
                         ("x=-x,y=y,z=z", "mirror image"),
                         ("x=y,z=z", "training axis y is missing"),
                         ("x=w,y=x,z=z", "is not <x|y|z>"),
                         ("sideways", "use a preset")]:
        with pytest.raises(ConfigError, match=message):
            parse_mounting(bad)


def test_to_board_inverts_the_mounting():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(20, 7)).astype(np.float32)
    channels = [*CHANNELS, "temp"]
    for spec in ROTATIONS:
        m = parse_mounting(spec)
        board = m.to_board(values, channels)
        np.testing.assert_array_equal(board[:, 6], values[:, 6])  # other channels kept
        for k in (0, 3):  # training = M @ board, for acc and gyro
            np.testing.assert_array_equal(board[:, k:k + 3] @ m.matrix.T, values[:, k:k + 3])


def test_suggestion_puts_gravity_on_the_training_axis():
    """Wrong mounting (identity) for every way of wearing: the suggested mounting reads
    gravity on the reference's axis with its sign, and is a rotation."""
    dev = _device_module()
    reference = [1.0, -0.17, -0.02]
    for spec in ROTATIONS:
        worn = parse_mounting(spec)
        board = worn.to_board(np.array([reference]), ["acc_x", "acc_y", "acc_z"])[0]
        ok, message, _ = dev.compare(list(board), reference, 30.0)
        if board[0] > 0.9:  # only turned about x (vertical): gravity cannot show it
            assert ok and message.startswith("MOUNTING ok")
            continue
        src, sgn = dev.suggest((0, 1, 2), (1, 1, 1), list(board), reference)
        fixed = parse_mounting(dev.spec(src, sgn))  # a rotation, or ConfigError
        got = fixed.matrix @ board
        assert np.argmax(np.abs(got)) == 0 and got[0] > 0.9, (spec, fixed.spec())
        assert not ok and "axis x reads" in message and fixed.spec() in message, message
    ok, message, _ = dev.compare([0.0, 0.0, 1.8], reference, 30.0)
    assert not ok and "stand still" in message


def test_gravity_reference_of_hapt_standing():
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(load_bundled_hapt().select(subjects=["1", "3"]), window=128,
                              hop=64, unit="samples")
    ref = gravity_reference(windows)
    assert ref["class"] == "STANDING" and ref["n_windows"] == int(np.sum(windows.y == "STANDING"))
    g = np.array(ref["gravity_g"])
    assert 0.95 < np.linalg.norm(g) < 1.05 and g[0] > 0.95  # HAPT: x points up
    assert gravity_reference(windows.select_channels(["gyro_x", "gyro_y", "gyro_z"])) is None


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A small bundle (light features) of HAPT subjects 1 and 3, with its gravity reference."""
    from tinyhar.config import make_config
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.training import build_pipeline
    from tinyhar.windows.windowing import make_windows

    try:
        mpx.find_micropython()
    except TinyharError as exc:
        pytest.skip(f"MicroPython unix port not available: {exc}")
    hapt = load_bundled_hapt().select(subjects=["1", "2", "3"])
    train, _ = make_windows(hapt.select(subjects=["1", "3"]), window=128, hop=64,
                            unit="samples")
    cfg = make_config({"features": {"set": "light"},
                       "model": {"n_estimators": 6, "max_depth": 8}})
    pipe = build_pipeline(train, cfg, 64)
    pipe.model.fit(pipe.transform(train), train.y)
    out = tmp_path_factory.mktemp("mount") / "bundle"
    info = mpx.export_micropython(pipe, out, n_test_windows=0,
                                  gravity=gravity_reference(train))
    frame = hapt.select(subjects=["2"]).frame
    session = frame[frame["session"] == "exp03"].reset_index(drop=True)
    part = session.iloc[298:298 + 128 + 64 * 20]  # starts standing (3 s = 150 samples)
    assert (part["label"].iloc[:150] == "STANDING").all()
    return out, info, part[CHANNELS].to_numpy(np.float32)


def _live(bundle_dir, values, mounting_file, tmp_path):
    """Run app_live on a replay of ``values``; return its PRED classes and MOUNTING lines."""
    from tinyhar.device.simulate import write_replay_csv

    csv = write_replay_csv(tmp_path / "rec.csv", np.arange(len(values)) / 50.0, values,
                           CHANNELS)
    code = ("import app_live\n"
            f"app_live.main(replay={str(csv)!r}, display='print', verbose=False, "
            f"mounting={str(mounting_file)!r})\n")
    lines = mpx.run_micropython(code, bundle_dir).stdout.splitlines()
    return ([ln.split()[2] for ln in lines if ln.startswith("PRED ")],
            [ln for ln in lines if ln.startswith("MOUNTING")])


def test_live_app_maps_a_swapped_recording_back(bundle, tmp_path):
    out, info, values = bundle
    stored = json.loads((out / MOUNTING_FILE).read_text())
    assert stored["mounting"] == "x=x,y=y,z=z" == info["mounting"]
    assert stored["reference"]["class"] == "STANDING"
    plain, checks = _live(out, values, out / MOUNTING_FILE, tmp_path)
    assert len(plain) == 21 and len(checks) == 1 and checks[0].startswith("MOUNTING ok"), checks

    worn = parse_mounting("x=-y,y=x,z=z")  # the board turned 90 degrees about z
    swapped = worn.to_board(values, CHANNELS)
    assert not np.array_equal(swapped, values)

    right = tmp_path / "right"
    right.mkdir()
    write_mounting(right, worn, stored["reference"])
    classes, checks = _live(out, swapped, right / MOUNTING_FILE, tmp_path)
    assert classes == plain  # a signed permutation is exact: the same features
    assert checks[0].startswith("MOUNTING ok"), checks

    _, checks = _live(out, swapped, out / MOUNTING_FILE, tmp_path)  # identity: wrong
    assert len(checks) == 1 and checks[0].startswith("MOUNTING off"), checks
    assert "axis x reads" in checks[0] and "Try mounting x=-y,y=x,z=z" in checks[0]


def test_set_bundle_mounting_keeps_the_reference(bundle, tmp_path):
    import shutil

    out, _, _ = bundle
    copy = tmp_path / "b"
    shutil.copytree(out, copy)
    before = json.loads((copy / MOUNTING_FILE).read_text())["reference"]
    set_bundle_mounting(copy, "m5stickc-plus2-waist")
    after = json.loads((copy / MOUNTING_FILE).read_text())
    assert after["mounting"] == "x=y,y=-x,z=z" and after["reference"] == before
    assert json.loads((copy / "bundle.json").read_text())["mounting"] == "x=y,y=-x,z=z"
    with pytest.raises(ConfigError, match="mirror image"):
        set_bundle_mounting(copy, "x=y,y=x,z=z")

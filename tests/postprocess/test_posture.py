"""Walking-referenced posture correction: known tilts give known angles and decisions."""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.errors import ConfigError, EvaluationError
from tinyhar.postprocess import PostProcessor, select_postprocess
from tinyhar.postprocess.posture import (
    PostureCorrection,
    centred_mean,
    posture_classes,
    posture_groups,
    relative_tilt,
    tilt_angles,
)

CLASSES = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING"]


def _tilted(deg: float, n: int) -> np.ndarray:
    """``n`` mean accelerations of 1 g tilted by ``deg`` from +x towards +z."""
    a = np.radians(deg)
    return np.tile([np.cos(a), 0.0, np.sin(a)], (n, 1))


def _session(sit_deg: float, stand_deg: float, mount_deg: float = 0.0, swap: bool = False):
    """One session: 10 walking, 10 sitting and 10 standing windows; the sensor is mounted
    turned by ``mount_deg`` about y, so every gravity direction is rotated alike. The
    classifier cannot tell sitting from standing (0.45 / 0.45, the top class right, or
    with ``swap`` wrong, by 1e-6)."""
    grav = np.concatenate([_tilted(0, 10), _tilted(sit_deg, 10), _tilted(stand_deg, 10)])
    a = np.radians(mount_deg)
    rot = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    grav = grav @ rot.T
    proba = np.zeros((30, 6))
    proba[:10, 0] = 1.0
    proba[10:, 3] = proba[10:, 4] = 0.45
    proba[10:, 5] = 0.1
    proba[10:20, 4 if swap else 3] += 1e-6
    proba[20:, 3 if swap else 4] += 1e-6
    y = np.array(["WALKING"] * 10 + ["SITTING"] * 10 + ["STANDING"] * 10, dtype=object)
    return proba / proba.sum(axis=1, keepdims=True), grav, y


def _data(n_sessions: int = 6):
    parts = [_session(20 + 3 * i, 2 + i % 3, mount_deg=7 * i, swap=i % 2 == 1)
             for i in range(n_sessions)]
    proba = np.concatenate([p for p, _, _ in parts])
    grav = np.concatenate([g for _, g, _ in parts])
    y = np.concatenate([t for _, _, t in parts])
    sessions = np.repeat([f"s{i}" for i in range(n_sessions)], 30)
    return proba, grav, y, sessions


def test_tilt_angles_are_measured_from_the_mean_walking_direction():
    grav = np.concatenate([_tilted(0, 5), _tilted(30, 2), _tilted(90, 1)]) * 0.98
    walking = np.arange(8) < 5
    ang = tilt_angles(grav, walking, min_walking=5)
    np.testing.assert_allclose(ang, [0] * 5 + [30, 30, 90], atol=1e-9)
    assert np.isnan(tilt_angles(grav, walking, min_walking=6)).all()  # too few walking windows
    grav[6] = np.nan
    assert np.isnan(tilt_angles(grav, walking, 5)[6])


def test_posture_classes_are_found_by_name_or_refused():
    assert posture_classes(CLASSES) == (3, 4, [0, 1, 2])
    assert posture_classes(["Walking", "Sitting", "Standing", "Jogging"]) == (1, 2, [0])
    with pytest.raises(ConfigError, match="SITTING, STANDING and WALKING"):
        PostureCorrection(["a", "b"], "walking_reference")
    with pytest.raises(ConfigError, match="postprocess.posture must be one of"):
        PostureCorrection(CLASSES, "gravity")


def test_correction_with_known_coefficients():
    proba, grav, _ = _session(30.0, 2.0)
    # sitting when angle > 10 degrees: z = 1 * angle + 0 * log-odds - 10
    pc = PostureCorrection(CLASSES, "walking_reference", coef=[[1.0, 0.0, -10.0]])
    out = pc.correct(proba, grav)
    np.testing.assert_array_equal(out[:10], proba[:10])  # walking rows untouched
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    np.testing.assert_allclose(out[10:, 5], proba[10:, 5])  # LAYING keeps its share
    np.testing.assert_allclose(out[10:20, 3], 0.9 / (1 + np.exp(-20.0)), rtol=1e-5)
    np.testing.assert_allclose(out[20:, 4], 0.9 / (1 + np.exp(-8.0)), rtol=1e-5)
    assert (np.argmax(out, axis=1) == [0] * 10 + [3] * 10 + [4] * 10).all()
    inactive = PostureCorrection(CLASSES)
    np.testing.assert_array_equal(inactive.correct(proba, None), proba)


@pytest.mark.parametrize("method", ["walking_reference", "walking_reference_all",
                                    "walking_reference_grouped",
                                    "walking_reference_grouped_context"])
def test_fit_learns_the_tilt_across_mountings_and_round_trips(method):
    proba, grav, y, sessions = _data()
    pc = PostureCorrection(CLASSES, method).fit(proba, grav, y, sessions)
    if method == "walking_reference":
        assert pc.coef[0, 0] > 0  # more tilt -> more likely sitting
    elif method == "walking_reference_grouped":  # columns: 6 log-p, angle, relative, 1
        assert pc.coef.shape == (6, 9)
        assert pc.coef[3, 7] > pc.coef[4, 7]  # relative tilt: SITTING above STANDING
        assert pc.coef[5, -1] == -50.0  # no LAYING window
        # only WALKING in the walking group: it keeps the group's whole share
        np.testing.assert_array_equal(pc.coef[:3, -1], [0.0, -50.0, -50.0])
        np.testing.assert_array_equal(pc.coef[:3, 3:6], 0.0)  # no weight across groups
    elif method == "walking_reference_grouped_context":  # ... relative, interaction, 1
        assert pc.coef.shape == (6, 10) and pc.context == 9
        assert pc.coef[3, 7] > pc.coef[4, 7]
        np.testing.assert_array_equal(pc.coef[:3, 8], 0.0)  # interaction: static group only
        np.testing.assert_array_equal(pc.coef[:3, -1], [0.0, -50.0, -50.0])
    else:  # the angle weight of SITTING above that of STANDING
        assert pc.coef[3, -2] > pc.coef[4, -2]
        assert pc.coef[5, -1] == -50.0  # no LAYING window to learn from: probability ~0
    out = pc.correct(proba, grav, sessions)
    truth = np.array([CLASSES.index(v) for v in y])
    assert (np.argmax(out, axis=1) == truth).all()
    # without the session reference, the mounting turn (up to 35 degrees) would dominate
    again = PostureCorrection.from_dict(pc.to_dict(), CLASSES)
    np.testing.assert_allclose(again.correct(proba, grav, sessions), out)
    with pytest.raises(EvaluationError, match="labelled windows"):
        PostureCorrection(CLASSES, method).fit(proba, grav, np.full(len(y), ""), sessions)
    with pytest.raises(ConfigError, match="coef must be finite numbers of shape"):
        PostureCorrection(CLASSES, method, coef=[1.0, 2.0])
    with pytest.raises(ConfigError, match="mean acceleration"):
        pc.correct(proba, None)
    with pytest.raises(ConfigError, match="not fitted"):
        PostureCorrection(CLASSES, "walking_reference").correct(proba, grav)


def test_postprocessor_with_posture_is_offline_and_serialisable():
    proba, grav, y, sessions = _data()
    spec = PostProcessor.from_dict({"smoothing": "mode", "mode_k": 3,
                                    "posture": "walking_reference"}, CLASSES)
    assert spec.needs_fit and not spec.streamable
    with pytest.raises(ConfigError, match="not fitted"):
        spec.apply(proba, sessions, gravity=grav)
    spec.fit(proba, y, sessions, gravity=grav)
    assert spec.describe() == "posture(walking_reference)+mode(k=3)"
    with pytest.raises(ConfigError, match="needs whole sessions"):
        spec.stream()
    got = spec.apply_labels(proba, sessions, gravity=grav)
    assert (got == y).all()
    plain = PostProcessor(CLASSES, smoothing="mode", mode_k=3).apply_labels(proba, sessions)
    assert (plain != y).sum() == 20 * 3  # the classifier alone swaps half of the sessions
    again = PostProcessor.from_dict(spec.to_dict(), CLASSES)
    assert (again.apply_labels(proba, sessions, gravity=grav) == got).all()
    old = spec.to_dict()
    old.pop("posture")  # a postprocess.json written before the posture option
    assert not PostProcessor.from_dict(old, CLASSES).posture.active


def test_selection_compares_candidates_with_the_fitted_posture():
    proba, grav, y, sessions = _data(8)
    subjects = np.array([s[1:] for s in sessions])
    posture = PostureCorrection(CLASSES, "walking_reference").fit(proba, grav, y, sessions)
    cands = [PostProcessor(CLASSES), PostProcessor(CLASSES).with_posture(posture)]
    best, table = select_postprocess(proba, y, sessions, subjects, candidates=cands,
                                     n_folds=4, gravity=grav)
    assert [r["postprocess"] for r in table] == ["none", "posture(walking_reference)+none"]
    assert table[1]["macro_f1"] == 1.0 > table[0]["macro_f1"]
    assert best.posture is posture


def test_selection_fits_an_unfitted_posture_within_each_fold():
    proba, grav, y, sessions = _data(8)
    subjects = np.array([s[1:] for s in sessions])
    unfitted = PostureCorrection(CLASSES, "walking_reference_all")
    cands = [PostProcessor(CLASSES).with_posture(unfitted)]
    best, table = select_postprocess(proba, y, sessions, subjects, candidates=cands,
                                     n_folds=4, gravity=grav)
    assert table[0]["macro_f1"] == 1.0
    assert best.posture.fitted and best.posture is not unfitted and not unfitted.fitted


@pytest.mark.parametrize("method", ["walking_reference_all", "walking_reference_grouped",
                                    "walking_reference_grouped_context"])
def test_correction_is_unchanged_when_the_sensor_is_mounted_turned(method):
    """A fixed rotation of the sensor turns the reference and every window alike."""
    from scipy.spatial.transform import Rotation

    proba, grav, y, sessions = _data()
    pc = PostureCorrection(CLASSES, method).fit(proba, grav, y, sessions)
    turned = grav.copy()
    for i, s in enumerate(np.unique(sessions)):
        rows = sessions == s
        turned[rows] = Rotation.random(random_state=i).apply(grav[rows])
    np.testing.assert_allclose(pc.correct(proba, turned, sessions),
                               pc.correct(proba, grav, sessions), atol=1e-9)


def test_relative_tilt_and_groups_known_values():
    ang = np.array([5.0, 30.0, 6.0, 4.0, np.nan, 40.0])
    static = np.array([True, False, True, True, True, False])
    np.testing.assert_allclose(relative_tilt(ang, static), [0, 25, 1, -1, np.nan, 35])
    np.testing.assert_allclose(relative_tilt(ang, np.zeros(6, bool)), [0, 0, 0, 0, np.nan, 0])
    assert posture_groups(CLASSES) == [[3, 4, 5], [0, 1, 2]]
    assert posture_groups(["Sitting", "Walking", "Standing"]) == [[0, 2], [1]]


def test_grouped_correction_with_known_coefficients():
    """Sitting 30 degrees, standing 2: the median static tilt is 16, relative +-14."""
    proba, grav, _ = _session(30.0, 2.0)
    coef = np.zeros((6, 9))
    coef[3, 7] = 1.0  # SITTING: 1 per degree of relative tilt
    coef[5, 8] = -50.0  # LAYING: never
    coef[[0, 1, 2], [0, 1, 2]] = 1.0  # walking classes: keep the classifier's split
    pc = PostureCorrection(CLASSES, "walking_reference_grouped", coef=coef)
    out = pc.correct(proba, grav)
    z = np.exp([14.0, 0.0, -50.0])
    np.testing.assert_allclose(out[10:20, 3:], np.tile(z / z.sum(), (10, 1)), rtol=1e-9)
    z = np.exp([-14.0, 0.0, -50.0])
    np.testing.assert_allclose(out[20:, 3:], np.tile(z / z.sum(), (10, 1)), rtol=1e-9)
    np.testing.assert_array_equal(out[10:, :3], 0.0)  # no walking share to split
    floor = np.log(1e-3)  # PROBA_FLOOR: walking rows are (1, 0, 0) in the walking group
    z = np.exp([0.0, floor, floor])
    np.testing.assert_allclose(out[:10, :3], np.tile(z / z.sum(), (10, 1)), rtol=1e-9)
    np.testing.assert_array_equal(out[:10, 3:], 0.0)
    assert (np.argmax(out, axis=1) == [0] * 10 + [3] * 10 + [4] * 10).all()


def test_grouped_keeps_the_static_walking_split_and_uses_the_relative_tilt():
    """Each session's standing tilt is offset by 8 more degrees (a walking reference a
    little off upright): the absolute tilt overlaps across sessions (standing 42, sitting
    12), the tilt relative to the session's postures does not (+-5 degrees)."""
    parts = [_session(12 + 8 * i, 2 + 8 * i, mount_deg=5 * i, swap=i % 2 == 1)
             for i in range(6)]
    proba = np.concatenate([p for p, _, _ in parts])
    walking = np.tile(np.arange(30) < 10, 6)
    proba[walking] = 0.8 * proba[walking] + 0.2 * np.eye(6)[4]  # some doubt: standing
    grav = np.concatenate([g for _, g, _ in parts])
    y = np.concatenate([t for _, _, t in parts])
    sessions = np.repeat([f"s{i}" for i in range(6)], 30)
    truth = np.array([CLASSES.index(v) for v in y])
    grouped = PostureCorrection(CLASSES, "walking_reference_grouped")
    out = grouped.fit(proba, grav, y, sessions).correct(proba, grav, sessions)
    assert (np.argmax(out, axis=1) == truth).all()
    np.testing.assert_allclose(out[:, :3].sum(axis=1), proba[:, :3].sum(axis=1), atol=1e-12)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
    pair = PostureCorrection(CLASSES, "walking_reference").fit(proba, grav, y, sessions)
    assert (np.argmax(pair.correct(proba, grav, sessions), axis=1) != truth).sum() >= 10
    spec = PostProcessor.from_dict({"posture": "walking_reference_grouped"}, CLASSES)
    spec.fit(proba, y, sessions, gravity=grav)
    assert spec.describe() == "posture(walking_reference_grouped)+none"
    again = PostProcessor.from_dict(spec.to_dict(), CLASSES)
    assert (again.apply_labels(proba, sessions, gravity=grav) == y).all()


def test_posture_candidates_for_auto():
    from tinyhar.postprocess.posture import posture_candidates

    methods = [pc.method for pc in posture_candidates(CLASSES, "auto", context=3)]
    assert methods == ["none", "walking_reference", "walking_reference_all",
                       "walking_reference_grouped", "walking_reference_grouped_context"]
    assert posture_candidates(CLASSES, "auto", context=3)[-1].context == 3
    assert [pc.method for pc in posture_candidates(CLASSES, "auto", has_gravity=False)] == [
        "none"]
    assert [pc.method for pc in posture_candidates(["a", "b"], "auto")] == ["none"]
    only = posture_candidates(CLASSES, "walking_reference_grouped", min_walking=7)
    assert [(pc.method, pc.min_walking, pc.fitted) for pc in only] == [
        ("walking_reference_grouped", 7, False)]
    with pytest.raises(ConfigError, match="postprocess.posture must be one of"):
        posture_candidates(CLASSES, "gravity")


def test_training_streams_choose_the_posture_by_cv_with_posture_auto():
    """``select_on_streams`` with ``posture: auto``: every method against none, nested CV."""
    from tinyhar.evaluation.streams import StreamPredictions, select_on_streams

    proba, grav, y, sessions = _data(8)
    n = len(y)
    t = np.tile(np.arange(30) * 1.28, 8)
    pred = StreamPredictions(
        CLASSES, session=sessions, subject=np.array([s[1:] for s in sessions]),
        run=np.zeros(n, dtype=np.int64), t_start=t, t_end=t + 2.56, y=y, proba=proba,
        invalid=np.zeros(n, dtype=bool), acc_magnitude=np.ones(n), window_s=2.56, hop_s=1.28,
        gravity=grav,
    )
    spec, table, chosen = select_on_streams(pred, {"smoothing": "mode", "mode_k": 3,
                                                   "posture": "auto"}, n_folds=4)
    assert [r["postprocess"] for r in table] == [
        "mode(k=3)", "posture(walking_reference)+mode(k=3)",
        "posture(walking_reference_all)+mode(k=3)",
        "posture(walking_reference_grouped)+mode(k=3)",
        "posture(walking_reference_grouped_context,k=9)+mode(k=3)"]
    assert table[0]["macro_f1"] < 0.8  # the classifier alone swaps half of the sessions
    assert table[1]["macro_f1"] == 1.0
    assert spec.describe() == "posture(walking_reference)+mode(k=3)"  # earliest of the best
    assert spec.posture.fitted and "posture by leave-subjects-out CV" in chosen
    assert (spec.apply_labels(proba, sessions, gravity=grav) == y).all()
    no_gravity = StreamPredictions(**{**pred.__dict__, "gravity": None})
    spec, table, _ = select_on_streams(no_gravity, {"posture": "auto"}, n_folds=4)
    assert not spec.posture.active and not any("posture" in r["postprocess"] for r in table)


def test_centred_mean_known_values():
    p = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_allclose(centred_mean(p, 3), [[0.5, 0.5], [2 / 3, 1 / 3], [2 / 3, 1 / 3],
                                                    [1.0, 0.0]])
    np.testing.assert_allclose(centred_mean(p, 5), [[2 / 3, 1 / 3], [0.75, 0.25],
                                                    [0.75, 0.25], [2 / 3, 1 / 3]])
    np.testing.assert_array_equal(centred_mean(p, 1), p)
    assert centred_mean(np.zeros((0, 2)), 3).shape == (0, 2)


def test_grouped_context_correction_with_known_coefficients():
    """Sitting 30 degrees, standing 2 (relative +-14): the flickering classifier says
    SITTING 0.8 / STANDING 0.1 on even windows and the reverse on odd ones; averaged over 3
    windows the two neighbours win: log-odds log(1.0/1.7) with an even centre, log(1.7/1.0)
    with an odd one, 0 next to the walking windows (0.9/0.9) and at the session's end. The
    only weight is 1 on the interaction column (log-odds x clipped relative tilt / 10) for
    SITTING."""
    _, grav, _ = _session(30.0, 2.0)
    proba = np.zeros((30, 6))
    proba[:10, 0] = 1.0
    proba[10:, 5] = 0.1
    even = (np.arange(30) % 2 == 0)[10:]
    proba[10:, 3] = np.where(even, 0.8, 0.1)
    proba[10:, 4] = np.where(even, 0.1, 0.8)
    coef = np.zeros((6, 10))
    coef[3, 8] = 1.0  # SITTING: 1 x interaction
    coef[5, 9] = -50.0
    coef[[0, 1, 2], [0, 1, 2]] = 1.0
    pc = PostureCorrection(CLASSES, "walking_reference_grouped_context", coef=coef, context=3)
    out = pc.correct(proba, grav)
    mean = centred_mean(proba, 3)
    odds = np.log(mean[10:, 3] / mean[10:, 4])
    np.testing.assert_allclose(odds[[0, 1, 2, -1]], [0.0, np.log(1.7), -np.log(1.7), 0.0],
                               atol=1e-12)  # windows 10 (rows 9-11), 11, 12, 29 (rows 28-29)
    rel = np.where(np.arange(20) < 10, 14.0, -14.0)  # the static median tilt is 16
    z = np.column_stack([odds * np.clip(rel, -10, 40) / 10, np.zeros(20), np.full(20, -50.0)])
    e = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(out[10:, 3:], e / e.sum(axis=1, keepdims=True),  # share 1
                               rtol=1e-9)
    np.testing.assert_array_equal(out[:10, 3:], 0.0)  # walking rows keep no static share
    state = pc.to_dict()
    assert state["context"] == 3
    again = PostureCorrection.from_dict(state, CLASSES)
    np.testing.assert_allclose(again.correct(proba, grav), out)
    assert pc.describe() == "posture(walking_reference_grouped_context,k=3)"
    assert "context" not in PostureCorrection(CLASSES, "walking_reference_grouped").to_dict()
    for bad in (2, 0, True, 1.5):
        with pytest.raises(ConfigError, match="posture_context must be an odd integer"):
            PostureCorrection(CLASSES, "walking_reference_grouped_context", context=bad)


def test_grouped_context_is_configured_and_serialised_with_the_post_processing():
    proba, grav, y, sessions = _data()
    spec = PostProcessor.from_dict({"smoothing": "mode", "mode_k": 3,
                                    "posture": "walking_reference_grouped_context",
                                    "posture_context": 3}, CLASSES)
    assert spec.posture.context == 3 and spec.needs_fit and not spec.streamable
    assert spec.unfitted().posture.context == 3
    spec.fit(proba, y, sessions, gravity=grav)
    assert spec.describe() == "posture(walking_reference_grouped_context,k=3)+mode(k=3)"
    assert (spec.apply_labels(proba, sessions, gravity=grav) == y).all()
    again = PostProcessor.from_dict(spec.to_dict(), CLASSES)
    assert again.posture.context == 3 and again.posture.fitted
    np.testing.assert_array_equal(again.apply(proba, sessions, gravity=grav),
                                  spec.apply(proba, sessions, gravity=grav))

"""Continuous recognition on whole HAPT test streams: every post-processing option, on device too.

For HAPT accelerometer only and accelerometer + gyroscope (the publisher's
archive, ``hapt-raw``; the 6 basic activities), a 10-tree model (depth <= 10,
default features, 2.56 s windows, 1.28 s hop) is trained on the 21 official
training subjects. Every window of their whole streams is classified by the
5-fold leave-subjects-out fold model that did not see its subject; each
post-processing option of :func:`tinyhar.postprocess.default_candidates` is
fitted on these cross-validated streams (the HMM; never on test subjects) and
applied to every window of the nine official test subjects' whole streams
(impure and unlabelled windows and postural transitions included; windows and
samples whose true label is not one of the 6 activities are not scored).

One row per (sensors, option)::

    {dataset, sensors, model, postprocess, window_macro_f1, sample_macro_f1, kappa,
     segment_f1, oversegmentation, median_delay_s, c_parity, micropython_parity}

``window_macro_f1``: per window (majority label of the window);
``sample_macro_f1``, ``kappa``, ``segment_f1`` (IoU >= 0.5),
``oversegmentation`` (predicted / true segments) and ``median_delay_s``: per
sample, each sample taking the class of the window whose centre is nearest
(:func:`tinyhar.evaluation.continuous.windows_to_samples`), scored with
:func:`tinyhar.evaluation.continuous.continuous_metrics`. ``c_parity`` and
``micropython_parity``: the fraction of the test windows whose smoothed class
from the generated C library (gcc, host) and from ``tinyhar_post.py`` (unix
port) equals Python's, given the same probabilities; None for the options
that need whole sessions (Viterbi). ``micropython_ms``: post-processing time
per window in the unix port (this machine, fastest of 3 runs); ``unknown``:
fraction of the test windows called unknown after smoothing.

Where tinyhar has the "unknown" rejection (``tinyhar.postprocess.rejection``),
every option is also run behind it (``reject(both,5%)+...``: top probability
and OOD score, thresholds calibrated on the cross-validated training streams
for 5 % false rejection); the device then also gets the windows' model inputs.

Where tinyhar has the walking-referenced posture correction
(``tinyhar.postprocess.posture``), every option is also run behind each of its
methods (``posture(walking_reference)+...``: sitting vs standing;
``posture(walking_reference_all)+...``: every class;
``posture(walking_reference_grouped)+...``: within the static and within the
walking classes, with the tilt also relative to the session's postures;
``posture(walking_reference_grouped_context,k=9)+...``: the same on the
probabilities averaged over 9 windows, with a sitting/standing log-odds x
relative tilt term),
fitted on the cross-validated training streams; they need whole sessions
(parity null).
``cv_macro_f1``: the option's leave-subjects-out per-window macro-F1 on the
training subjects' streams (:func:`tinyhar.postprocess.select_postprocess`,
5 folds, the posture correction fitted within each fold; null for the
rejection rows): the score that chooses an option without the test subjects.
``cv_choice``: true for the one row per sensor set with the best
``cv_macro_f1`` (the option a user should take; the earliest on ties).

Targets (issue 10): accelerometer only per-sample macro-F1 >= 0.91 after
post-processing, accelerometer + gyroscope >= 0.955, over-segmentation <= 1.3;
parity 1.0.

Measured (``--no-device``, 10 trees depth <= 10; per-sample macro-F1 of the
option with the best ``cv_macro_f1`` in each group):

==========  ==========================  ==============  =====  =====
sensors     posture                     CV choice        CV    test
==========  ==========================  ==============  =====  =====
acc         none                        mode 9 + md 3   0.900  0.883
acc         walking_reference           mode 9 + md 3   0.912  0.901
acc         walking_reference_all       mode 9 + merge  0.933  0.920
acc         walking_reference_grouped   mode 9 + merge  0.947  0.946
acc+gyro    none                        mode 9 + md 3   0.931  0.943
acc+gyro    walking_reference           mode 9 + md 3   0.940  0.950
acc+gyro    walking_reference_all       mode 9 + merge  0.959  0.944
acc+gyro    walking_reference_grouped   mode 9 + merge  0.964  0.953
acc         ..._grouped_context (k=9)   mode 11 + md 3  0.941  0.936
acc+gyro    ..._grouped_context (k=9)   mode 11         0.971  0.968
==========  ==========================  ==============  =====  =====

(md 3: causal minimum duration of 3 windows; merge: mode 9 then the ``merge``
minimum duration of 5 windows.) The CV choice (``cv_choice``) is
``walking_reference_grouped`` + mode 9 + merge for the accelerometer only:
0.946 (target 0.91 met; over-segmentation 1.17, segment F1 0.875), and
``walking_reference_grouped_context`` + mode 11 for accelerometer +
gyroscope: 0.968 (target 0.955 and stretch 0.96 met; over-segmentation
1.17, segment F1 0.898), each the CV choice among all 100 posture options
(``--no-device``, one run per sensor set). Over-segmentation of the
``walking_reference_all`` choices: 1.22 (acc) and 1.20 (acc+gyro).
With ``--features invariant`` (acc+gyro; the orientation-invariant set, whose
outputs and the tilt angle do not change when the sensor is mounted turned):
none 0.868 (CV 0.857), ``walking_reference_all`` + mode 9 + merge 0.910 (CV
0.934).

Usage::

    python benchmarks/continuous.py [--json] [--sensors acc acc+gyro] [--path ZIP]
                                    [--features default|invariant] [--no-device]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ZIP = REPO.parent / "shared" / "data" / "HAPT Data Set.zip"


def _train(rec, sensors: str, features: str = "default") -> dict:
    """Pipeline fitted on the training subjects, fold models (subject -> model) and, where
    tinyhar has the rejection module, the OOD models (final and per fold)."""
    from sklearn.base import clone
    from sklearn.model_selection import GroupKFold

    from tinyhar.config import make_config
    from tinyhar.evaluation.splits import OFFICIAL_TEST_SUBJECTS
    from tinyhar.training import build_pipeline
    from tinyhar.windows.windowing import make_windows

    try:
        from tinyhar.postprocess.rejection import OodModel
    except ImportError:  # a tinyhar without "unknown" rejection: no rejection rows
        OodModel = None
    subjects = sorted(set(rec.frame["subject"].astype(str)), key=int)
    train_subjects = [s for s in subjects if s not in OFFICIAL_TEST_SUBJECTS]
    windows, _ = make_windows(rec.select(subjects=train_subjects), window=2.56, hop=1.28,
                              purity=0.8)
    cfg = make_config({"dataset": {"sensors": sensors}, "features": {"set": features},
                       "model": {"n_estimators": 10, "max_depth": 10}})
    pipeline = build_pipeline(windows, cfg, 64)
    X = pipeline.transform(windows)
    pipeline.model.fit(X, windows.y)
    classes = list(pipeline.classes)
    y_idx = np.array([classes.index(v) for v in windows.y])
    out = {"pipeline": pipeline, "models": {}, "oods": {}, "ood": None,
           "train": train_subjects, "test": list(OFFICIAL_TEST_SUBJECTS)}
    if OodModel is not None:
        out["ood"] = OodModel.fit(X, y_idx, len(classes))
    groups = np.asarray(windows.subject).astype(str)
    for fit, held in GroupKFold(n_splits=5).split(X, groups=groups):
        model = clone(pipeline.model)
        model.fit(X[fit], windows.y[fit])
        ood = OodModel.fit(X[fit], y_idx[fit], len(classes)) if OodModel is not None else None
        for s in set(groups[held]):
            out["models"][s] = model
            out["oods"][s] = ood
    return out


def _stream_features(pipeline, rec) -> np.ndarray:
    """Model inputs of every stream window, in the order of ``stream_predictions``."""
    from tinyhar.evaluation.streams import iter_stream_windows

    parts = [pipeline.transform(chunk.windows) for chunk in iter_stream_windows(
        rec, pipeline.n_samples, pipeline.streaming_hop, pipeline.sampling_rate_hz,
        pipeline.channels)]
    return np.concatenate(parts)


def _sample_labels(rec, classes):
    """Per session: true label per sample ("" = not scored)."""
    out = {}
    known = set(classes)
    for session, frame in rec.frame.groupby("session", sort=False):
        lab = frame["label"].astype(object).where(frame["label"].notna(), "").to_numpy()
        out[str(session)] = np.array([v if v in known else "" for v in lab], dtype=object)
    return out


def _sample_scores(pred, names, truth, rate):
    """continuous_metrics per sample: window classes spread over the samples."""
    from tinyhar.evaluation.continuous import continuous_metrics, windows_to_samples

    y_true, y_pred, sess = [], [], []
    n_win = int(round(pred.window_s * rate))
    for session in dict.fromkeys(pred.session.tolist()):
        idx = np.flatnonzero(pred.session == session)
        start = np.round(pred.t_start[idx] * rate).astype(np.int64)
        t = truth[str(session)]
        y_pred.append(windows_to_samples(names[idx], start, n_win, len(t), fill=""))
        y_true.append(t)
        sess.append(np.full(len(t), session, dtype=object))
    yt, yp, ss = (np.concatenate(a) for a in (y_true, y_pred, sess))
    return continuous_metrics(yt, yp, sessions=ss, step_s=1.0 / rate)


def _device_parity(spec, pred, features, tmp: Path) -> dict:
    from tinyhar.export.c_runner import build_post_example
    from tinyhar.export.parity import post_parity
    from tinyhar.export.post import export_post_c, write_post_mpy

    if not spec.streamable:
        return {"c_parity": None, "micropython_parity": None, "micropython_ms": None}
    ok = ~pred.invalid
    proba, runs = pred.proba[ok], pred.run_keys()[ok]
    feats = None if features is None else features[ok]
    name = spec.describe()
    for a, b in (("(", "_"), (")", ""), (",", "_"), ("%", ""), ("+", "_")):
        name = name.replace(a, b)
    folder = tmp / name
    export_post_c(spec, folder)
    exe = build_post_example(folder)
    write_post_mpy(spec, folder)
    res = post_parity(spec, proba, runs, feats, c_binary=exe, bundle_dir=folder, repeat=3)
    return {"c_parity": res["c"]["smoothed_parity"],
            "micropython_parity": res["micropython"]["smoothed_parity"],
            "micropython_ms": round(res["micropython"]["us_per_window"] / 1000.0, 4)}


def posture_module_present() -> bool:
    """True when tinyhar has the walking-referenced posture correction."""
    try:
        import tinyhar.postprocess.posture  # noqa: F401
    except ImportError:
        return False
    return True


def _rejection(pred_cv, y_cv, ood):
    """The "unknown" rejection (top probability and OOD score, 5 % false rejection)
    calibrated on the cross-validated training streams; None without the module."""
    if ood is None:
        return None
    from tinyhar.postprocess.rejection import Rejection

    known = y_cv != ""
    return Rejection("both", ood=ood).calibrate(pred_cv.proba[known].max(axis=1),
                                                 pred_cv.ood[known])


def rows_for(path: Path | None, sensors: str, device: bool, log=print,
             feature_set: str = "default") -> list[dict]:
    """The benchmark rows of one sensor set."""
    from tinyhar.datasets.registry import load_dataset
    from tinyhar.evaluation.continuous import continuous_metrics
    from tinyhar.evaluation.streams import scoring_labels, stream_predictions
    from tinyhar.postprocess import default_candidates

    t0 = time.time()
    kwargs = {"sensors": "acc" if sensors == "acc" else "acc+gyro"}
    if path is not None:
        kwargs["path"] = path
    rec = load_dataset("hapt-raw", **kwargs)
    fit = _train(rec, kwargs["sensors"], feature_set)
    pipeline = fit["pipeline"]
    classes = list(pipeline.classes)
    log(f"[{sensors}] trained ({time.time() - t0:.0f} s); classifying the streams")
    ood_kw = {} if fit["ood"] is None else {"ood_model": fit["oods"].__getitem__}
    pred_cv = stream_predictions(pipeline, rec.select(subjects=fit["train"]),
                                 fit["models"].__getitem__, **ood_kw)
    test_rec = rec.select(subjects=fit["test"])
    pred = stream_predictions(pipeline, test_rec,
                              **({} if fit["ood"] is None else {"ood_model": fit["ood"]}))
    features = None
    if fit["ood"] is not None and device:
        features = _stream_features(pipeline, test_rec)
        assert len(features) == len(pred)
    truth = _sample_labels(test_rec, classes)
    y_win, _ = scoring_labels(pred)
    cv = pred_cv.subset(~pred_cv.invalid)
    y_cv, _ = scoring_labels(cv)
    rejection = _rejection(cv, y_cv, fit["ood"])
    rate = float(pipeline.sampling_rate_hz)
    specs = list(default_candidates(classes))
    if rejection is not None:
        specs += [c.with_rejection(rejection) for c in default_candidates(classes)]
    cv_scores = {}
    if posture_module_present():
        from tinyhar.postprocess import select_postprocess
        from tinyhar.postprocess.posture import POSTURE_METHODS, PostureCorrection

        groups = [(default_candidates(classes), None)]
        for method in POSTURE_METHODS[1:]:
            posture = PostureCorrection(classes, method)  # fitted per fold, then on all
            groups.append(([c.with_posture(posture) for c in default_candidates(classes)],
                           cv.gravity))
            specs += groups[-1][0]
        for group, grav in groups:
            _, table = select_postprocess(cv.proba, y_cv, cv.run_keys(), cv.subject,
                                          candidates=group, gravity=grav)
            cv_scores.update({r["postprocess"]: r["macro_f1"] for r in table})
    rows = []
    with tempfile.TemporaryDirectory(prefix="tinyhar_continuous_") as tmp:
        for cand in specs:
            spec = cand.unfitted()
            if getattr(getattr(spec, "rejection", None), "active", False):
                spec.fit(cv.proba, y_cv, cv.run_keys(), cv.ood)
            elif getattr(getattr(spec, "posture", None), "active", False):
                spec.fit(cv.proba, y_cv, cv.run_keys(), None, cv.gravity)
            else:
                spec.fit(cv.proba, y_cv, cv.run_keys())
            names = pred.names(pred.classify(spec))
            win = continuous_metrics(y_win, names, sessions=pred.session, step_s=pred.hop_s)
            smp = _sample_scores(pred, names, truth, rate)
            row = {
                "dataset": "hapt-raw",
                "sensors": sensors,
                "model": "random_forest(10 trees, depth<=10)"
                         + ("" if feature_set == "default" else f", features {feature_set}"),
                "postprocess": spec.describe(),
                "window_macro_f1": win["macro_f1"],
                "sample_macro_f1": smp["macro_f1"],
                "kappa": smp["kappa"],
                "segment_f1": smp["segment_f1"],
                "oversegmentation": smp["oversegmentation"],
                "median_delay_s": smp["median_delay_s"],
                "c_parity": None,
                "micropython_parity": None,
                "micropython_ms": None,
                "unknown": float(np.mean(names == "unknown")),
                "cv_macro_f1": cv_scores.get(spec.describe()),
            }
            if device:
                row.update(_device_parity(spec, pred, features, Path(tmp)))
            rows.append(row)
            log(f"[{sensors}] {row['postprocess']}: sample macro-F1 "
                f"{row['sample_macro_f1']:.3f}, over-segmentation "
                f"{row['oversegmentation']:.2f}, C {row['c_parity']}, "
                f"MicroPython {row['micropython_parity']} ({time.time() - t0:.0f} s)")
    scored = [r for r in rows if r["cv_macro_f1"] is not None]
    best = max(scored, key=lambda r: r["cv_macro_f1"]) if scored else None  # earliest on ties
    for row in rows:
        row["cv_choice"] = row is best
    return rows


def _table(rows: list[dict]) -> str:
    keys = ("sensors", "postprocess", "window_macro_f1", "sample_macro_f1", "kappa",
            "segment_f1", "oversegmentation", "median_delay_s", "c_parity",
            "micropython_parity", "micropython_ms", "cv_macro_f1", "cv_choice")

    def fmt(v):
        if v is None:
            return "-"
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    cells = [keys] + [tuple(fmt(r[k]) for k in keys) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(keys))]
    return "\n".join("  ".join(c[i].ljust(widths[i]) for i in range(len(keys))) for c in cells)


def main(argv: list[str] | None = None) -> int:
    """Print the rows (a table, or a JSON list with --json)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print a JSON list of rows")
    ap.add_argument("--sensors", nargs="+", default=["acc", "acc+gyro"],
                    choices=["acc", "acc+gyro"], help="sensor sets (default: both)")
    ap.add_argument("--path", type=Path, default=DEFAULT_ZIP if DEFAULT_ZIP.exists() else None,
                    help="HAPT Data Set.zip (default: ../shared/data or tinyhar's lookup)")
    ap.add_argument("--features", default="default", choices=["default", "invariant"],
                    help="feature set (features.set) of the model (default: default)")
    ap.add_argument("--no-device", action="store_true",
                    help="skip the C and MicroPython parity (c_parity etc. are null)")
    args = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    rows = []
    for sensors in args.sensors:
        rows.extend(rows_for(args.path, sensors, not args.no_device, log, args.features))
    print(json.dumps(rows, indent=1) if args.json else _table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

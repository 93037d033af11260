"""Benchmark of tinyhar's small neural networks against a tree baseline (CPU).

Rows, one per (dataset, protocol, model):

- UCI HAR, 9 inertial channels, official subject split (test subjects
  2 4 9 10 12 13 18 20 24, ``DATASETS["uci-har"].official_test_subjects``):
  every network, the tutorial LSTM preset, the
  ``ucihar-cnn`` preset (tuned by subject cross-validation on the training
  subjects only) and the random forest baseline; the ``ucihar-lstm`` preset
  also under its own protocol (random 80/20 split of windows), so the
  inflation of a random split shows next to the honest number;
- WISDM v1.1 windows (128 samples x 3 axes at 20 Hz), 5-fold GroupKFold by
  subject: the networks, the ``wisdm-bilstm`` preset and the forest; the preset
  and every model also under the preset's tutorial protocol (train on the first
  30 subjects, test on the last 6, ``DATASETS["wisdm-windows"].tutorial_test_subjects``
  -- the derived npz numbers subjects 0-35, not with the original user ids, and
  holds 128-sample windows rather than the tutorial's 200).

For each network the float32 and int8 ONNX files are exported
(:func:`tinyhar.export.onnx.export_onnx`, calibration on training windows)
and evaluated on the test windows. Metrics of cross-validation are means over
folds.

Usage::

    python benchmarks/deep.py --quick --json
    python benchmarks/deep.py --datasets ucihar --models small-cnn,rf

Run it from the repository root; the data sets are read from
``../shared/data`` (``--data-dir``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np

from tinyhar.datasets.info import DATASETS
from tinyhar.evaluation.metrics import classification_metrics
from tinyhar.evaluation.splits import group_kfold, holdout_split

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"

UCIHAR_SIGNALS = [f"{k}_{a}" for k in ("body_acc", "body_gyro", "total_acc") for a in "xyz"]
WISDM_CLASSES = ["Downstairs", "Jogging", "Sitting", "Standing", "Upstairs", "Walking"]

# generic small configurations of each architecture (all < 100k parameters)
GENERIC = {
    "cnn1d": dict(architecture="cnn1d", hidden_units=(32, 64, 64), n_layers=3, kernel_size=7,
                  dropout=0.2, dense_units=64, epochs=30, batch_size=64, lr=2e-3,
                  lr_schedule="cosine", patience=None),
    "lstm": dict(architecture="lstm", hidden_units=64, n_layers=2, dropout=0.2, dense_units=0,
                 epochs=30, batch_size=64, lr=2e-3, lr_schedule="cosine", patience=None),
    "bilstm": dict(architecture="bilstm", hidden_units=48, n_layers=1, dropout=0.2,
                   dense_units=64, epochs=30, batch_size=64, lr=2e-3, lr_schedule="cosine",
                   patience=None),
    "gru": dict(architecture="gru", hidden_units=64, n_layers=2, dropout=0.2, dense_units=0,
                epochs=30, batch_size=64, lr=2e-3, lr_schedule="cosine", patience=None),
    "tcn": dict(architecture="tcn", hidden_units=32, n_layers=5, kernel_size=5, dropout=0.1,
                dense_units=0, epochs=30, batch_size=64, lr=2e-3, lr_schedule="cosine",
                patience=None),
}
PRESET_MODELS = ("small-cnn", "ucihar-cnn", "tiny-cnn", "ucihar-lstm", "wisdm-bilstm")
ALL_MODELS = ("rf", *PRESET_MODELS, *GENERIC)
DEFAULT_MODELS = ("rf", "small-cnn", "ucihar-cnn", "tiny-cnn", "ucihar-lstm", "wisdm-bilstm",
                  "tcn")
UCIHAR_ONLY = ("ucihar-lstm", "ucihar-cnn")  # 9-channel recipes, not run on 3-axis WISDM


# ------------------------------------------------------------------ data
def _read_ucihar_zip(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Private reader of the official UCI HAR zip (used until a tinyhar loader exists)."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        root = next(n for n in names if n.endswith("activity_labels.txt"))[
            : -len("activity_labels.txt")
        ]
        labels = dict(
            line.split() for line in z.read(root + "activity_labels.txt").decode().splitlines()
            if line.strip()
        )
        Xs, ys, ss = [], [], []
        for split in ("train", "test"):
            chans = [
                np.array(
                    z.read(f"{root}{split}/Inertial Signals/{s}_{split}.txt").split(),
                    dtype=np.float32,
                ).reshape(-1, 128)
                for s in UCIHAR_SIGNALS
            ]
            Xs.append(np.stack(chans, axis=2))
            ys.append([labels[v.decode()] for v in z.read(f"{root}{split}/y_{split}.txt").split()])
            ss.append([v.decode() for v in z.read(f"{root}{split}/subject_{split}.txt").split()])
    return (
        np.concatenate(Xs),
        np.asarray(sum(ys, []), dtype=object),
        np.asarray(sum(ss, []), dtype=object),
    )


def load_ucihar(data_dir: Path) -> dict:
    """UCI HAR windows ``(10299, 128, 9)`` at 50 Hz, labels, subjects, channel names."""
    path = data_dir / "UCI HAR Dataset.zip"
    try:
        from tinyhar.datasets.ucihar import load_ucihar as tinyhar_loader
    except ImportError:
        tinyhar_loader = None
    if tinyhar_loader is not None:
        # the tutorial's channel order: body_acc, body_gyro, total_acc
        order = [f"{k}_{a}" for k in ("body_acc", "gyro", "acc") for a in "xyz"]
        ws = tinyhar_loader(path, signals="all").select_channels(order)
        return dict(X=ws.X, y=ws.y, g=ws.subject, channels=order, rate=50.0,
                    reader="tinyhar.datasets.ucihar.load_ucihar")
    X, y, s = _read_ucihar_zip(path)
    channels = [c.replace("total_acc", "acc").replace("body_gyro", "gyro") for c in UCIHAR_SIGNALS]
    return dict(X=X, y=y, g=s, channels=channels, rate=50.0, reader="zip reader")


def load_wisdm(data_dir: Path) -> dict:
    """WISDM windows ``(7292, 128, 3)`` at 20 Hz (z-scored axes), labels, subjects 0-35."""
    d = np.load(data_dir / "wisdm_v1.1_windows" / "windows.npz")
    y = np.asarray(WISDM_CLASSES, dtype=object)[d["y"]]
    return dict(X=d["X"].astype(np.float32), y=y, g=d["subject"].astype(str).astype(object),
                channels=["acc_x", "acc_y", "acc_z"], rate=20.0, reader="npz")


# ------------------------------------------------------------- features
def simple_features(X: np.ndarray) -> np.ndarray:
    """Per channel: mean, std, min, max, 25th/75th percentile, mean |diff|, zero crossings."""
    centred = X - X.mean(axis=1, keepdims=True)
    zc = (np.diff(np.sign(centred), axis=1) != 0).mean(axis=1)
    q25, q75 = np.percentile(X, [25, 75], axis=1)
    return np.hstack([
        X.mean(axis=1), X.std(axis=1), X.min(axis=1), X.max(axis=1), q25, q75,
        np.abs(np.diff(X, axis=1)).mean(axis=1), zc,
    ])


def make_forest(data: dict):
    """RandomForest (10 trees, depth 10) on tinyhar's FeatureExtractor features if available."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    forest = RandomForestClassifier(n_estimators=10, max_depth=10, random_state=0, n_jobs=1)
    try:
        from tinyhar.features import FeatureExtractor
    except ImportError:
        return make_pipeline(FunctionTransformer(simple_features), forest), "simple stats"
    fx = FeatureExtractor(sampling_rate_hz=data["rate"], channels=tuple(data["channels"]))
    return make_pipeline(fx, forest), "tinyhar.features.FeatureExtractor (default set)"


# ---------------------------------------------------------------- models
def make_model(name: str, quick: bool, seed: int, threads: int):
    from tinyhar.models.nn import NeuralNetClassifier, make_estimator

    common = dict(seed=seed, n_threads=threads)
    if quick:
        common.update(epochs=1, max_steps=15)
    if name in PRESET_MODELS:
        return make_estimator(name, **common)
    return NeuralNetClassifier(**{**GENERIC[name], **common})


def evaluate_split(name, data, tr, te, args, export_dir: Path) -> dict:
    X, y, g = data["X"], data["y"], data["g"]
    t0 = time.time()
    if name == "rf":
        model, features = make_forest(data)
        model.fit(X[tr], y[tr])
        pred = model.predict(X[te])
        info = {"params": None, "macs": None, "onnx_bytes": None, "int8_accuracy": None,
                "features": features}
    else:
        model = make_model(name, args.quick, args.seed, args.threads)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model.fit(X[tr], y[tr], groups=g[tr])
        pred = model.predict(X[te])
        info = {"params": model.n_params_, "macs": model.macs_per_window_,
                "onnx_bytes": None, "int8_accuracy": None}
        if not args.no_export:
            from tinyhar.export.onnx import export_onnx

            # a random split shares subjects by design: check calibration subjects otherwise
            leaky = bool(set(g[tr].tolist()) & set(g[te].tolist()))
            rep = export_onnx(model, export_dir, X[tr], X[te], y[te],
                              calibration_subjects=None if leaky else g[tr],
                              check_subjects=None if leaky else g[te])
            info.update(
                onnx_bytes=rep["float32_bytes"], int8_bytes=rep["int8_bytes"],
                int8_accuracy=rep["int8_accuracy"],
                float32_onnx_class_mismatches=rep["float32_class_mismatches"],
                int8_float_ops=rep["int8_op_types_float"],
                int8_calibration=rep["int8_calibration"],
            )
    m = classification_metrics(y[te], pred, sorted(set(y.tolist())))
    info.update(accuracy=m["accuracy"], macro_f1=m["macro_f1"], fit_seconds=time.time() - t0)
    return info


def aggregate(rows: list[dict]) -> dict:
    out = dict(rows[0])
    for key in ("accuracy", "macro_f1", "int8_accuracy", "fit_seconds"):
        vals = [r[key] for r in rows if r.get(key) is not None]
        out[key] = float(np.mean(vals)) if vals else None
        if key == "accuracy" and len(vals) > 1:
            out["accuracy_std"] = float(np.std(vals))
    out["n_folds"] = len(rows)
    return out


PROTOCOL_KEYS = ("official", "random", "cv", "holdout")


def protocols(dataset: str, model: str, y, g, args):
    """Yield (protocol name, list of (train_idx, test_idx)) for one dataset and model.

    Keys (``--protocols``): ``official`` (UCI HAR official subject split),
    ``random`` (UCI HAR random 80/20 window split, ``ucihar-lstm`` only),
    ``cv`` (WISDM GroupKFold by subject), ``holdout`` (WISDM subjects 0-29
    train / 30-35 test, the ``wisdm-bilstm`` tutorial's protocol).
    """
    wanted = set(args.protocols.split(","))
    if dataset == "ucihar":
        if model == "wisdm-bilstm":
            return
        if "official" in wanted:
            yield "official subject split", [
                holdout_split(g, DATASETS["uci-har"].official_test_subjects)
            ]
        if model == "ucihar-lstm" and "random" in wanted:
            from sklearn.model_selection import train_test_split

            idx = np.arange(len(y))
            tr, te = train_test_split(idx, test_size=0.2, random_state=args.seed, stratify=y)
            yield "random 80/20 windows (preset's original; leaks subjects)", [
                (np.sort(tr), np.sort(te))
            ]
    else:
        if model in UCIHAR_ONLY:
            return
        if "cv" in wanted:
            folds = list(group_kfold(g, args.folds))
            if args.quick:
                folds = folds[:2]
            yield f"{args.folds}-fold GroupKFold by subject", folds
        if "holdout" in wanted:
            test = DATASETS["wisdm-windows"].tutorial_test_subjects
            yield "subjects 0-29 train / 30-35 test (wisdm-bilstm's original)", [
                holdout_split(g, test)
            ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--datasets", default="ucihar,wisdm",
                        help="comma list of ucihar, wisdm (default both)")
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help=f"comma list of {', '.join(ALL_MODELS)} "
                        f"(default {','.join(DEFAULT_MODELS)})")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 epoch of at most 15 steps, 2 folds")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--protocols", default=",".join(PROTOCOL_KEYS),
                        help="comma list of official, random (UCI HAR), cv, holdout (WISDM)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (<= 2 here)")
    parser.add_argument("--no-export", action="store_true", help="skip the ONNX export")
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list")
    parser.add_argument("--out", type=Path, help="also write the JSON rows to this file")
    args = parser.parse_args(argv)

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in ALL_MODELS]
    if unknown:
        parser.error(f"unknown models {unknown}; choose from {', '.join(ALL_MODELS)}")
    loaders = {"ucihar": load_ucihar, "wisdm": load_wisdm}
    rows: list[dict] = []
    for dataset in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        if dataset not in loaders:
            parser.error(f"unknown dataset {dataset!r}; choose ucihar or wisdm")
        data = loaders[dataset](args.data_dir)
        print(f"# {dataset}: {data['X'].shape} windows via {data['reader']}", file=sys.stderr)
        for model in models:
            for protocol, splits in protocols(dataset, model, data["y"], data["g"], args):
                fold_rows = []
                for i, (tr, te) in enumerate(splits):
                    with tempfile.TemporaryDirectory() as tmp:
                        r = evaluate_split(model, data, tr, te, args, Path(tmp))
                    print(f"#   {model} / {protocol} / fold {i + 1}: acc {r['accuracy']:.4f}",
                          file=sys.stderr)
                    fold_rows.append(r)
                row = {"dataset": dataset, "protocol": protocol, "model": model,
                       **aggregate(fold_rows)}
                rows.append(row)
    keys = ["dataset", "protocol", "model", "accuracy", "macro_f1", "params", "macs",
            "onnx_bytes", "int8_accuracy"]
    rows = [{**{k: r.get(k) for k in keys}, **r} for r in rows]
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        def fmt(v):
            return "-" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))

        print(" | ".join(keys))
        for r in rows:
            print(" | ".join(fmt(r[k]) for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Subject-independent accuracy of the tree pipeline on the public data sets.

Rows (``--json`` prints a JSON list of ``{dataset, sensors, protocol, model,
feature_set, accuracy, macro_f1, nodes, bytes}``):

- HAPT raw streams, official test subjects, accelerometer only and
  accelerometer + gyroscope (the bundled copy of HAPT, 2.56 s windows, 50 %
  overlap);
- UCI HAR windows, official split, total_acc only and all 9 channels;
- WISDM v1.1 windows, 5-fold GroupKFold by subject.

Budget: 10 trees of depth at most 10 (random forest), seed 0. Targets:
HAPT accelerometer-only macro-F1 >= 0.90 (emlearn's har_trees example:
0.82 with 10 trees, 772 nodes); UCI HAR 9 channels >= 0.94.

``--reference`` adds, for the same features and split, models without the
size budget, to show how much of a gap is due to the budget and how much to
the features: a random forest of 300 unlimited trees, histogram gradient
boosting (200 iterations, i.e. 200 trees per class; Ke et al. 2017) and an
RBF support vector machine on standardised features. None of them fits a
microcontroller budget; they are yardsticks, not tinyhar models.

Usage::

    python benchmarks/accuracy.py [--json] [--reference] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from tinyhar.config import make_config
from tinyhar.evaluation.metrics import classification_metrics
from tinyhar.evaluation.splits import group_kfold
from tinyhar.training import build_pipeline, load_data, make_window_set, split_windows

CASES = [
    ("hapt", "acc", "official test subjects"),
    ("hapt", "acc+gyro", "official test subjects"),
    ("uci-har", "acc", "official split"),
    ("uci-har", "all", "official split"),
    ("wisdm-windows", "acc", "5-fold GroupKFold by subject"),
]


REFERENCE_MODELS = ("random_forest 300 trees", "hist_gradient_boosting 200 iter", "rbf_svm")


def reference_model(name: str, seed: int):
    """An unbudgeted scikit-learn model for ``--reference`` rows (see the module doc)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if name.startswith("random_forest"):
        return RandomForestClassifier(300, random_state=seed, n_jobs=-1)
    if name.startswith("hist_gradient"):
        return HistGradientBoostingClassifier(max_iter=200, random_state=seed)
    return make_pipeline(StandardScaler(), SVC(C=10.0, gamma="scale"))


def run_case(
    dataset: str,
    sensors: str,
    protocol: str,
    feature_set: str,
    seed: int,
    reference: bool = False,
) -> list[dict]:
    """Train and score one benchmark case; returns its rows (one, or more with ``reference``)."""
    cfg = make_config(
        {
            "seed": seed,
            "dataset": {"name": dataset, "sensors": sensors},
            "features": {"set": feature_set},
            "model": {"n_estimators": 10, "max_depth": 10},
            "evaluation": {"cv_folds": 0},
        }
    )
    t0 = time.perf_counter()
    windows, _ = make_window_set(load_data(cfg), cfg)
    pipeline = build_pipeline(windows, cfg, None)
    features = pipeline.transform(windows)
    if protocol.startswith("5-fold"):
        y_true, y_pred, sizes = [], [], []
        for tr, te in group_kfold(windows.subject, 5):
            model = pipeline.model.fit(features[tr], windows.y[tr])
            y_true.append(windows.y[te])
            y_pred.append(model.predict(features[te]))
            sizes.append(model.size())
        m = classification_metrics(np.concatenate(y_true), np.concatenate(y_pred), windows.classes)
        size = {k: int(np.mean([s[k] for s in sizes])) for k in ("nodes", "bytes")}
    else:
        tr, te, _, _ = split_windows(windows, cfg)
        pipeline.model.fit(features[tr], windows.y[tr])
        m = classification_metrics(
            windows.y[te], pipeline.model.predict(features[te]), windows.classes
        )
        size = pipeline.model.size()
    row = {
        "dataset": dataset,
        "sensors": sensors,
        "protocol": protocol,
        "model": "random_forest 10 trees, depth <= 10",
        "feature_set": feature_set,
        "n_features": int(features.shape[1]),
        "accuracy": round(m["accuracy"], 4),
        "macro_f1": round(m["macro_f1"], 4),
        "nodes": int(size["nodes"]),
        "bytes": int(size["bytes"]),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    rows = [row]
    if reference and not protocol.startswith("5-fold"):
        for name in REFERENCE_MODELS:
            t0 = time.perf_counter()
            model = reference_model(name, seed).fit(features[tr], windows.y[tr])
            m = classification_metrics(windows.y[te], model.predict(features[te]), windows.classes)
            rows.append(
                row
                | {
                    "model": f"ref. {name}",
                    "accuracy": round(m["accuracy"], 4),
                    "macro_f1": round(m["macro_f1"], 4),
                    "nodes": -1,
                    "bytes": -1,
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table or JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print a JSON list of rows")
    parser.add_argument("--data-dir", help="folder with the public data sets (TINYHAR_DATA)")
    parser.add_argument(
        "--feature-sets", default="default,minimal", help="comma-separated feature sets to compare"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reference",
        action="store_true",
        help="add unbudgeted yardstick models (300-tree forest, gradient boosting, SVM)",
    )
    args = parser.parse_args(argv)
    if args.data_dir:
        os.environ["TINYHAR_DATA"] = args.data_dir
    rows = []
    for fs in args.feature_sets.split(","):
        for dataset, sensors, protocol in CASES:
            rows.extend(run_case(dataset, sensors, protocol, fs.strip(), args.seed, args.reference))
            if not args.json:
                print(f"  done: {dataset} {sensors} {fs}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Subject-independent accuracy, 10 trees of depth <= 10")
    for col in (
        "dataset",
        "sensors",
        "protocol",
        "model",
        "features",
        "n_feat",
        "accuracy",
        "macro-F1",
        "nodes",
        "bytes",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["dataset"],
            r["sensors"],
            r["protocol"],
            r["model"],
            r["feature_set"],
            str(r["n_features"]),
            f"{r['accuracy']:.3f}",
            f"{r['macro_f1']:.3f}",
            str(r["nodes"]) if r["nodes"] >= 0 else "-",
            str(r["bytes"]) if r["bytes"] >= 0 else "-",
        )
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

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

Usage::

    python benchmarks/accuracy.py [--json] [--data-dir ../shared/data]
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


def run_case(dataset: str, sensors: str, protocol: str, feature_set: str, seed: int) -> dict:
    """Train and score one benchmark row; returns the row dict."""
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
    return {
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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table or JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print a JSON list of rows")
    parser.add_argument("--data-dir", help="folder with the public data sets (TINYHAR_DATA)")
    parser.add_argument(
        "--feature-sets", default="default,minimal", help="comma-separated feature sets to compare"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.data_dir:
        os.environ["TINYHAR_DATA"] = args.data_dir
    rows = []
    for fs in args.feature_sets.split(","):
        for dataset, sensors, protocol in CASES:
            rows.append(run_case(dataset, sensors, protocol, fs.strip(), args.seed))
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
            r["feature_set"],
            str(r["n_features"]),
            f"{r['accuracy']:.3f}",
            f"{r['macro_f1']:.3f}",
            str(r["nodes"]),
            str(r["bytes"]),
        )
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

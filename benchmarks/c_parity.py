"""Parity of the C export with the Python pipeline on the full HAPT test set, and its budget.

Trains the default pipeline (default features, 10-tree depth-10 random
forest, 2.56 s windows with 50 % overlap, accelerometer + gyroscope) on the
bundled HAPT copy (or uses ``--run``), exports it to C, compiles the example
with gcc and classifies every window (128 samples, hop 64) of the official
HAPT test subjects with it. Compares the features (max absolute and relative
error per feature) and the classes with the Python pipeline; every class
mismatch must be explained by a feature within float tolerance of a split
threshold on the decision path. Targets: identical classes on >= 99.9 % of
the windows, all mismatches explained.

With ``--budget`` it also measures the device budget of the export
(:func:`tinyhar.device.budget.c_budget`: Cortex-M4F flash / RAM, instructions
per window and per feature group, profiled on 32 test windows). Targets:
flash <= 32 kB, static RAM <= 8 kB.

Usage::

    python benchmarks/c_parity.py [--json] [--run RUN_DIR] [--budget] [--out DIR]

``--json`` prints ``{n_windows, identical, mismatches, explained,
max_abs_feature_error, max_rel_feature_error, bit_exact_features,
worst_features, examples}`` (and ``budget`` with ``--budget``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tinyhar.config import make_config
from tinyhar.datasets.bundled import load_bundled_hapt
from tinyhar.device.budget import c_budget, format_budget
from tinyhar.evaluation.splits import OFFICIAL_TEST_SUBJECTS
from tinyhar.export.c import build_example, c_parity, export_c, load_pipeline
from tinyhar.training import train
from tinyhar.windows.windowing import make_windows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--run", help="an existing run folder (default: train the default pipeline)")
    ap.add_argument("--budget", action="store_true", help="also measure the device budget")
    ap.add_argument("--out", help="keep the run and the export here (default: a temp folder)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tinyhar_parity_") as tmp:
        work = Path(args.out) if args.out else Path(tmp)
        run = Path(args.run) if args.run else work / "run"
        if not args.run:
            cfg = make_config({"model": {"n_estimators": 10, "max_depth": 10},
                               "evaluation": {"cv_folds": 0}})
            train(cfg, run, overwrite=True)  # --out keeps the work folder between runs
        pipeline = load_pipeline(run)
        c_dir = work / "c"
        export_c(pipeline, c_dir)
        exe = build_example(c_dir)

        rec = load_bundled_hapt().select(subjects=[str(s) for s in OFFICIAL_TEST_SUBJECTS])
        windows, _ = make_windows(rec, window=pipeline.n_samples,
                                  hop=pipeline.hop_samples or pipeline.n_samples,
                                  unit="samples")
        res = c_parity(pipeline, windows, exe)
        result = {k: res[k] for k in (
            "n_windows", "identical", "identical_fraction", "mismatches", "explained",
            "max_abs_feature_error", "max_rel_feature_error", "bit_exact_features",
            "worst_features", "examples")}
        result["targets_met"] = bool(res["identical_fraction"] >= 0.999
                                     and res["explained"] == res["mismatches"])
        if args.budget:
            sel = np.linspace(0, len(windows) - 1, 32).astype(int)
            budget = c_budget(c_dir, windows=windows.X[sel])
            result["budget"] = budget
        result["seconds"] = round(time.perf_counter() - t0, 1)

    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"C parity on the HAPT official test subjects ({result['n_windows']} windows):")
        print(f"  identical classes: {result['identical']} "
              f"({100 * result['identical_fraction']:.2f} %)")
        print(f"  mismatches: {result['mismatches']}, explained: {result['explained']}")
        print(f"  max feature error: abs {result['max_abs_feature_error']:.3g}, "
              f"rel {result['max_rel_feature_error']:.3g}; "
              f"{100 * result['bit_exact_features']:.1f} % of feature values bit-exact")
        print("  worst features (max relative error):")
        for w in result["worst_features"]:
            print(f"    {w['name']:<28} abs {w['max_abs_error']:.3g}  "
                  f"rel {w['max_rel_error']:.3g}")
        if "budget" in result:
            print(format_budget(result["budget"]))
    return 0 if result["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())

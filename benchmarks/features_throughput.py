"""Throughput of tinyhar's feature extraction (windows per second, one process).

Synthetic but realistic-ish windows (fixed seed): gravity in a random
direction, gait-like harmonics at 1.4-2.4 Hz, sensor noise, and rotation
rates, in g and rad/s, 50 Hz.

Usage::

    python benchmarks/features_throughput.py                  # table with per-stage times
    python benchmarks/features_throughput.py --json           # one JSON object
    python benchmarks/features_throughput.py --feature-set minimal --n-windows 50000
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from tinyhar.features import FEATURE_SETS, extract_features, feature_catalog

ACC = ("acc_x", "acc_y", "acc_z")
GYRO = ("gyro_x", "gyro_y", "gyro_z")


def synthetic_windows(
    n_windows: int, n_samples: int = 128, n_channels: int = 6, fs: float = 50.0, seed: int = 0
) -> np.ndarray:
    """Realistic-ish windows, shape (n_windows, n_samples, n_channels), float32 (g, rad/s)."""
    rng = np.random.default_rng(seed)
    t = (np.arange(n_samples) / fs)[None, :, None]
    g = rng.normal(size=(n_windows, 1, 3))
    g /= np.linalg.norm(g, axis=2, keepdims=True)
    base = np.concatenate([g, np.zeros((n_windows, 1, n_channels - 3))], axis=2)
    f = rng.uniform(1.4, 2.4, size=(n_windows, 1, 1))
    amp = rng.uniform(0.0, 0.5, size=(n_windows, 1, n_channels))
    ph = rng.uniform(0, 2 * np.pi, size=(n_windows, 1, n_channels))
    X = (base + amp * np.sin(2 * np.pi * f * t + ph)
         + 0.3 * amp * np.sin(4 * np.pi * f * t + ph)
         + 0.01 * rng.normal(size=(n_windows, n_samples, n_channels)))
    return X.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; see ``--help``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-windows", type=int, default=20_000, help="batch size (windows)")
    parser.add_argument("--n-samples", type=int, default=128, help="samples per window")
    parser.add_argument("--feature-set", choices=FEATURE_SETS, default="default")
    parser.add_argument("--acc-only", action="store_true", help="3 accelerometer channels only")
    parser.add_argument("--sampling-rate", type=float, default=50.0, help="Hz")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)

    channels = ACC if args.acc_only else ACC + GYRO
    X = synthetic_windows(args.n_windows, args.n_samples, len(channels), args.sampling_rate)
    kwargs = dict(channels=channels, sampling_rate_hz=args.sampling_rate,
                  feature_set=args.feature_set)
    extract_features(X[: min(len(X), 1024)], **kwargs)  # warm-up
    best, best_timings, n_features = float("inf"), {}, 0
    for _ in range(max(1, args.repeats)):
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        F = extract_features(X, timings=timings, **kwargs)
        elapsed = time.perf_counter() - t0
        n_features = F.shape[1]
        if elapsed < best:
            best, best_timings = elapsed, timings
    rate = args.n_windows / best

    if args.json:
        print(json.dumps({
            "windows_per_s": round(rate, 1),
            "n_features": int(n_features),
            "n_samples": args.n_samples,
            "n_channels": len(channels),
            "feature_set": args.feature_set,
        }))
        return 0

    groups: dict[str, int] = {}
    for info in feature_catalog(channels, args.feature_set, args.sampling_rate):
        groups[info.group] = groups.get(info.group, 0) + 1
    print(f"feature set      {args.feature_set} ({n_features} features: "
          + ", ".join(f"{g} {k}" for g, k in groups.items()) + ")")
    print(f"windows          {args.n_windows} x {args.n_samples} samples x {len(channels)} "
          f"channels ({', '.join(channels)})")
    print(f"time             {best:.3f} s (best of {args.repeats})")
    print(f"throughput       {rate:,.0f} windows/s ({1e6 / rate:.1f} us per window)")
    print("\nstage                      time (s)   share")
    total = sum(best_timings.values()) or 1.0
    for stage, seconds in sorted(best_timings.items(), key=lambda kv: -kv[1]):
        print(f"{stage:25s} {seconds:9.3f}   {100 * seconds / total:5.1f} %")
    print("(the 'statistics' stage computes the time statistics of every group at once)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

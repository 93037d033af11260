"""Memory of loading one long recording file through a dataset definition.

Writes one synthetic subject's ``hours`` of 6-channel recordings (real HAPT
activity segments, :func:`tinyhar.datasets.synthetic.synthesize`) as a single
file (Parquet, or CSV with ``--format csv``), then a fresh child process loads
it with :func:`tinyhar.datasets.custom.load_custom` and reports the peak
resident memory above the process's baseline, per raw sample and as a
multiple of the samples' float32 size (issue 13 target: <= 2x).

The baseline is the RSS after the imports and after loading a 3-minute file
of the same format once (``warmup_mb``: what the first read of a format
costs whatever the file's size, about 20 MB for Parquet, as pyarrow.parquet
is imported and sets up its reader, 12 MB for CSV); the kernel's peak counter is reset there through
``/proc/self/clear_refs``, so this needs Linux. ``--cold`` leaves the
warm-up out (the one-time cost then counts as if per sample).

Usage::

    python benchmarks/load_memory.py [--json] [--hours 24] [--rate 50] [--format parquet|csv]
                                     [--data DIR] [--cold]

``--json`` prints one JSON object ``{hours, rate_hz, format, samples,
channels, baseline_mb, warmup_mb, peak_above_baseline_mb, bytes_per_sample,
float32_bytes_per_sample, ratio_to_float32, frame_bytes_per_sample, load_s}``;
``frame_bytes_per_sample`` is what the loaded
:class:`~tinyhar.datasets.recording.RecordingSet` itself holds.

Measured on this 2-core machine, ``--hours 24`` (4.32 M samples x 6 channels;
bytes per sample above the baseline, with the warm-up / ``--cold``):

========================================= ============= ============= =====
                                          Parquet       CSV           frame
========================================= ============= ============= =====
a string per sample for label etc.        109.9 / 117.1 178.2 / 180.6 90.8
category codes, chunked reading            46.2 /  50.7  50.5 /  49.2 35.0
no reader threads or pre-buffering,        36.4 /  40.6  38.8 /  41.1 35.0
no temporaries of a whole column
========================================= ============= ============= =====

``--cold`` at 12 / 24 / 48 h: Parquet 45.2 / 40.6 / 38.3 bytes per sample
(97.6 / 175.3 / 330.8 MB), CSV 47.7 / 41.1 / 39.7 (102.9 / 177.6 / 342.7
MB): each further sample costs 36 (Parquet) or 37 (CSV) bytes, of which the
frame holds 35, plus about 20 MB once. Before the last row, 12 h cold was
71.3 (Parquet) and 58.0 (CSV). The issue 13 target is 48 (2x the float32
data). Above the frame are pyarrow's one-time set-up (``--cold``: importing
pyarrow.parquet, the reader; about 16 MB of it library pages), what the
allocators keep of freed chunks, and one chunk of a column or check in
progress: Parquet is read without Arrow's pre-buffering and reader threads
(which kept up to 30 MB in Arrow's per-thread heaps), CSV chunks are freed
as they are converted, and the checks (rate, units, clipping), the session
scans and the categories work a chunk at a time instead of on a whole column
(the time steps alone were 8 bytes per sample). Runs vary by about 1 byte
per sample (what the allocators keep).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import gc, json, sys, time
from tinyhar.datasets.custom import load_custom

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

before = status("VmRSS:")
if sys.argv[2] != "-":
    load_custom(sys.argv[2])  # warm-up: a small file of the same format
gc.collect()
base = status("VmRSS:")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current RSS
start = time.perf_counter()
rec = load_custom(sys.argv[1])
took = time.perf_counter() - start
peak = status("VmHWM:") - base
n, k = rec.n_samples, len(rec.channels)
print(json.dumps({
    "samples": n, "channels": k, "baseline_mb": round(base / 1e6, 1),
    "warmup_mb": round((base - before) / 1e6, 1),
    "peak_above_baseline_mb": round(peak / 1e6, 1),
    "bytes_per_sample": round(peak / n, 1), "float32_bytes_per_sample": 4 * k,
    "ratio_to_float32": round(peak / n / (4 * k), 2),
    "frame_bytes_per_sample": round(rec.frame.memory_usage(deep=True).sum() / n, 1),
    "load_s": round(took, 2),
}))
"""


def write_data(folder: Path, hours: float, rate: float, fmt: str) -> Path:
    """One subject's ``hours`` in a single file and its definition; returns the YAML path."""
    import pandas as pd

    from tinyhar.datasets.synthetic import synthesize

    synthesize(folder, 1, hours, rate, seed=0, session_hours=hours, overwrite=True)
    yaml = folder / "data.yaml"
    if fmt == "csv":
        for file in sorted((folder / "recordings").glob("*.parquet")):
            pd.read_parquet(file).to_csv(file.with_suffix(".csv"), index=False)
            file.unlink()
        text = yaml.read_text().replace(".parquet", ".csv")
        yaml.write_text(text)
    return yaml


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--data", type=Path, default=None,
                        help="folder for the recording (default: a temporary one, removed)")
    parser.add_argument("--cold", action="store_true",
                        help="no warm-up: the baseline is the RSS after the imports")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    scratch = None if args.data else Path(tempfile.mkdtemp(prefix="tinyhar-load-"))
    folder = args.data or scratch / "data"
    try:
        yaml = write_data(folder, args.hours, args.rate, args.format)
        small = "-" if args.cold else write_data(
            folder.parent / f"{folder.name}-warmup", 0.05, args.rate, args.format)
        done = subprocess.run([sys.executable, "-c", _CHILD, str(yaml), str(small)], check=True,
                              capture_output=True, text=True)
        row = {"hours": args.hours, "rate_hz": args.rate, "format": args.format,
               **json.loads(done.stdout.strip().splitlines()[-1])}
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            shutil.rmtree(folder.parent / f"{folder.name}-warmup", ignore_errors=True)
    if args.json:
        print(json.dumps(row))
    else:
        print(f"{row['hours']:g} h at {row['rate_hz']:g} Hz ({row['format']}, "
              f"{row['samples']:,} samples x {row['channels']}): peak "
              f"{row['peak_above_baseline_mb']:.0f} MB above the baseline, "
              f"{row['bytes_per_sample']:.0f} B per sample = {row['ratio_to_float32']:.1f}x "
              f"float32 (the loaded frame: {row['frame_bytes_per_sample']:.0f} B per sample)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

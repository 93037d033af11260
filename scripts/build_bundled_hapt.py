"""Build tinyhar's bundled default data set from the publisher's HAPT archive.

Usage::

    python scripts/build_bundled_hapt.py [HAPT_ZIP] [OUTPUT]

``HAPT_ZIP`` defaults to ``../shared/data/HAPT Data Set.zip`` (relative to the
repository root), ``OUTPUT`` to ``src/tinyhar/data/hapt_basic.parquet``. The
recordings are read with ``load_hapt(activities="basic", sensors="acc+gyro")``
(all 30 subjects, continuous streams with unlabelled spans) and stored as int16
sensor counts (see :mod:`tinyhar.datasets.bundled`); the script checks that the
file reads back to the same recordings and prints its size.

Source: Reyes-Ortiz, Oneto, Samà, Parra, Anguita (2016), Neurocomputing
171:754-767; licence CC BY 4.0 (see ``src/tinyhar/data/HAPT_LICENSE.md``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from tinyhar.datasets.bundled import read_bundled, write_bundled
from tinyhar.datasets.hapt import load_hapt

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "HAPT Data Set.zip"
DEFAULT_OUTPUT = ROOT / "src" / "tinyhar" / "data" / "hapt_basic.parquet"
MAX_SIZE_BYTES = 10 * 1024 * 1024


def main(argv: list[str] | None = None) -> int:
    """Build the bundled file; return the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", nargs="?", type=Path, default=DEFAULT_SOURCE,
                        help=f"the publisher's HAPT zip or extracted folder ({DEFAULT_SOURCE})")
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT,
                        help=f"output Parquet file ({DEFAULT_OUTPUT})")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    recordings = load_hapt(args.source, activities="basic", sensors="acc+gyro")
    errors = write_bundled(recordings, args.output)
    back = read_bundled(args.output)
    size = args.output.stat().st_size

    original, decoded = recordings.frame, back.frame
    assert back.n_samples == recordings.n_samples
    assert back.classes == recordings.classes
    for c in ("label", "subject", "session"):  # same codes and categories
        assert decoded[c].equals(original[c]), c
    assert np.array_equal(decoded["time"].to_numpy(), original["time"].to_numpy())
    for c in recordings.channels:
        diff = np.abs(decoded[c].to_numpy(np.float64) - original[c].to_numpy(np.float64)).max()
        print(f"  {c}: max |decoded - original| = {diff:.2e}")

    print(
        f"wrote {args.output} ({size / 1e6:.2f} MB, {size} bytes) in "
        f"{time.perf_counter() - start:.1f} s: {recordings.n_samples} samples, "
        f"{len(recordings.subjects)} subjects, {len(recordings.sessions)} sessions; "
        f"max error acc {errors['max_acc_error_g']:.2e} g, "
        f"gyro {errors['max_gyro_error_rad_s']:.2e} rad/s"
    )
    if size > MAX_SIZE_BYTES:
        print(f"error: {size} bytes is more than the 10 MB budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

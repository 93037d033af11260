"""Device summary of the default pipeline: size, cost per window and parity, C and MicroPython.

Trains the default run once (bundled HAPT, default features, 10 trees of
depth <= 10), then runs ``benchmarks/c_parity.py --budget`` and
``benchmarks/micropython_parity.py`` on it (the full official HAPT test set)
and prints one JSON object (``--json``)::

    {flash_bytes, ram_bytes, instructions_per_window, micropython_ms_per_window,
     micropython_ms_per_group, micropython_light_ms_per_window, ...,
     c_parity, micropython_parity, n_windows}

``c_parity`` and ``micropython_parity`` are the shares of windows whose class
equals the Python pipeline's. Targets: flash <= 32 kB and static RAM <= 8 kB
on Cortex-M4F; <= 3 ms per window in the MicroPython unix port; parity >=
99.9 % for both. MicroPython times come per feature group too, for the default
set and for the light set (accelerometer only; it should stay below the about
1 ms of emlearn's ``har_trees`` example); the minimal set's total as well.

Usage::

    python benchmarks/device.py [--json] [--run RUN_DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tinyhar.config import make_config
from tinyhar.training import train

HERE = Path(__file__).resolve().parent


def _run_json(script: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(HERE / script), "--json", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out[out.index("{") :])


def main(argv: list[str] | None = None) -> int:
    """Run both parity benchmarks on one default run and print the summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--run", help="run folder of the default pipeline (trained if omitted)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tinyhar_device_") as tmp:
        run = Path(args.run) if args.run else Path(tmp) / "run"
        if not args.run:
            train(make_config({"evaluation": {"cv_folds": 0}}), run)
        c = _run_json("c_parity.py", "--run", str(run), "--budget")
        mp = _run_json("micropython_parity.py", "--run", str(run))
    budget = c.get("budget", {})
    result = {
        "flash_bytes": budget.get("flash_bytes"),
        "ram_bytes": budget.get("ram_bytes"),
        "instructions_per_window": budget.get("instructions_per_window"),
        "instructions_per_group": budget.get("instructions_per_group"),
        "micropython_ms_per_window": mp.get("ms_per_window"),
        "micropython_ms_per_group": mp.get("per_group_ms"),
        "micropython_minimal_ms_per_window": mp.get("minimal_ms_per_window"),
        "micropython_light_ms_per_window": mp.get("light_acc", {}).get("ms_per_window"),
        "micropython_light_ms_per_group": mp.get("light_acc", {}).get("per_group_ms"),
        "c_parity": c["identical"] / c["n_windows"],
        "micropython_parity": mp["identical"] / mp["n_windows"],
        "micropython_light_parity": (mp["light_acc"]["identical"] / mp["light_acc"]["n_windows"]
                                     if "light_acc" in mp else None),
        "micropython_max_rel_feature_error": mp.get("max_rel_feature_error"),
        "n_windows": c["n_windows"],
        "c_mismatches_explained": f"{c['explained']}/{c['mismatches']}",
        "micropython_mismatches_explained": f"{mp['explained']}/{mp['mismatches']}",
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:34s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

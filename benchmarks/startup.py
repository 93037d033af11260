"""Start-up time of the command line, relative to importing typer alone.

Times, each as the median of ``--repeat`` (default 5) fresh interpreter
processes on the same machine:

- ``typer_s``: ``python -c "import typer"``, the floor of any typer CLI;
- ``help_s``: ``python -m tinyhar --help``;
- ``datasets_s``: ``python -m tinyhar datasets`` (lists the data sets);

and ``ratio`` = the slower of ``help_s`` and ``datasets_s`` divided by
``typer_s``. The target (issue 9) is a ratio of at most 4: the CLI module
imports only typer and rich, and each command imports what it needs
(tests/test_cli.py checks that ``import tinyhar.cli`` imports no numpy,
pandas, scikit-learn, SciPy or torch).

Usage::

    python benchmarks/startup.py [--json] [--repeat 5]

``--json`` prints ``{"help_s": x, "datasets_s": d, "typer_s": y, "ratio": r}``
(seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def wall_time(args: list[str], repeat: int) -> float:
    """Median wall-clock time of ``repeat`` runs of ``python ARGS``, in s.

    Parameters
    ----------
    args : list of str
        Arguments after the interpreter.
    repeat : int
        Number of fresh processes (at least 1).

    Returns
    -------
    float
        Median time from process start to exit, in seconds.

    Raises
    ------
    RuntimeError
        If a run exits with a non-zero status.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, *args], env=env, capture_output=True, text=True, check=False
        )
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"python {' '.join(args)} failed:\n{done.stderr}")
    return statistics.median(times)


def measure(repeat: int = 5) -> dict[str, float]:
    """Measure the start-up times.

    Parameters
    ----------
    repeat : int
        Processes per command; the median is kept.

    Returns
    -------
    dict
        ``help_s``, ``datasets_s``, ``typer_s`` (s) and ``ratio`` (the slower
        tinyhar command over ``typer_s``).
    """
    typer_s = wall_time(["-c", "import typer"], repeat)
    help_s = wall_time(["-m", "tinyhar", "--help"], repeat)
    datasets_s = wall_time(["-m", "tinyhar", "datasets"], repeat)
    return {
        "help_s": round(help_s, 4),
        "datasets_s": round(datasets_s, 4),
        "typer_s": round(typer_s, 4),
        "ratio": round(max(help_s, datasets_s) / typer_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Print the start-up times as a table or JSON; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--repeat", type=int, default=5, help="processes per command (median)")
    args = parser.parse_args(argv)
    result = measure(args.repeat)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"python -c 'import typer'  {result['typer_s']:.3f} s")
    print(f"tinyhar --help            {result['help_s']:.3f} s")
    print(f"tinyhar datasets          {result['datasets_s']:.3f} s")
    print(f"ratio (slower / typer)    {result['ratio']:.2f} (target <= 4)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run pytest with numpy's SIMD dispatch narrowed, as a CPU with fewer vector extensions would.

numpy picks its kernels at import time among the CPU features it was built to
dispatch (``numpy._core._multiarray_umath.__cpu_dispatch__``, lowest first:
on x86-64 ``X86_V3`` (AVX2), ``X86_V4`` (AVX-512), ...; on aarch64 the ASIMD
and SVE families). ``NPY_DISABLE_CPU_FEATURES`` switches dispatched features
off. This script runs the given pytest arguments twice:

1. every dispatched feature above the lowest one off (e.g. AVX-512 off, AVX2 on),
2. every dispatched feature off (the build's baseline only, e.g. SSE4.2).

Features the CPU lacks are skipped by numpy, so the same command runs on any
machine. Usage::

    python scripts/narrowed_dispatch.py -- -q tests/features tests/export

Exits with the first non-zero pytest status.
"""

from __future__ import annotations

import os
import subprocess
import sys


def dispatch_levels() -> list[str]:
    """``NPY_DISABLE_CPU_FEATURES`` values to test, narrowest last."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    enabled = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
    levels = []
    if len(enabled) > 1:
        levels.append(" ".join(enabled[1:]))
    if enabled:
        levels.append(" ".join(enabled))
    return levels


def main(argv: list[str]) -> int:
    """Run pytest once per narrowed dispatch level; return the first failure's status."""
    args = argv[argv.index("--") + 1 :] if "--" in argv else argv
    levels = dispatch_levels()
    if not levels:
        print("numpy dispatches no optional CPU feature here: nothing to narrow")
        return 0
    for disabled in levels:
        env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": disabled}
        probe = subprocess.run(
            [sys.executable, "-c", "from numpy._core._multiarray_umath import "
             "__cpu_dispatch__ as d, __cpu_features__ as f; print([k for k in d if f.get(k)])"],
            env=env, capture_output=True, text=True, check=True,
        )
        print(f"== NPY_DISABLE_CPU_FEATURES={disabled!r}: numpy dispatches "
              f"{probe.stdout.strip()}", flush=True)
        status = subprocess.run([sys.executable, "-m", "pytest", *args], env=env).returncode
        if status:
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

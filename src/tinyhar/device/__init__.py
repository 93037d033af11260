"""Running tinyhar models on devices: tools, and the cost of a model on a microcontroller.

:mod:`tinyhar.device.budget` measures the C export (flash, RAM and stack for a
Cortex-M4F, instructions per window and per feature group on the host);
:mod:`tinyhar.device.tools` finds the compilers and profilers it needs and
says how to install the missing ones. Submodules are imported on demand.
"""

from __future__ import annotations

__all__ = ["c_budget", "format_budget", "write_budget"]


def __getattr__(name: str):
    if name in __all__:
        from tinyhar.device import budget as _budget

        return getattr(_budget, name)
    raise AttributeError(f"module 'tinyhar.device' has no attribute {name!r}")

"""Running tinyhar models on devices, and the cost of a model on a microcontroller.

:mod:`tinyhar.device.budget` measures the C export (flash, RAM and stack for a
Cortex-M4F, instructions per window and per feature group on the host);
:mod:`tinyhar.device.simulate` replays a recording through a MicroPython
bundle; :mod:`tinyhar.device.deploy` copies a bundle to a board. The compilers,
profilers and board tools they need are found by :mod:`tinyhar.tools`.
Submodules are imported on demand.
"""

from __future__ import annotations

__all__ = ["c_budget", "format_budget", "write_budget"]


def __getattr__(name: str):
    if name in __all__:
        from tinyhar.device import budget as _budget

        return getattr(_budget, name)
    raise AttributeError(f"module 'tinyhar.device' has no attribute {name!r}")

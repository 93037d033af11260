"""tinyhar: human activity recognition from motion sensors, down to microcontrollers.

The package follows the data flow:

``datasets`` (recordings in a canonical form) -> ``windows`` (fixed-length
windows with labels) -> ``features`` (hand-crafted, explainable features) ->
``models`` (small tree ensembles) -> ``evaluation`` (subject-independent
metrics) -> ``reporting`` (run folders, plots), with a thin CLI on top
(:mod:`tinyhar.cli`).
"""

from tinyhar.errors import TinyharError

__version__ = "0.1.0"
__all__ = ["TinyharError", "__version__"]

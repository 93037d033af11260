"""Core types every layer shares; they import only the bottom layer (:mod:`tinyhar.errors`).

- :mod:`.channels`: canonical channel names, their units (g, rad/s) and value limits;
- :mod:`.ids`: natural order of subject and session ids;
- :mod:`.spec`: :class:`WindowSpec`, the layout of one model input window;
- :mod:`.windowset`: :class:`WindowSet`, a stack of labelled windows;
- :mod:`.windowfile`: a window set in an ``.npz`` file (no pickle);
- :mod:`.labels`: checks of a label vector (:func:`check_labels`);
- :mod:`.rotations`: random 3-D rotations of sensor triads (:func:`random_rotations`);
- :mod:`.files`: atomic file writes.

The layer above, :mod:`tinyhar.datasets`, holds the recordings
(:class:`~tinyhar.datasets.RecordingSet`); external programs are found by
:mod:`tinyhar.tools`.
"""

from __future__ import annotations

from tinyhar.core.spec import WindowSpec
from tinyhar.core.windowfile import load_windows, save_windows
from tinyhar.core.windowset import WindowSet

__all__ = ["WindowSet", "WindowSpec", "load_windows", "save_windows"]

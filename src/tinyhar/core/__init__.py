"""Core types every layer shares; imports nothing of tinyhar but :mod:`tinyhar.errors`.

- :mod:`.channels`: canonical channel names, their units (g, rad/s) and value limits;
- :mod:`.ids`: natural order of subject and session ids;
- :mod:`.spec`: :class:`WindowSpec`, the layout of one model input window;
- :mod:`.windowset`: :class:`WindowSet`, a stack of labelled windows, and its ``.npz`` format;
- :mod:`.labels`: checks of a label vector (:func:`check_labels`);
- :mod:`.files`: atomic file writes.

The layer above, :mod:`tinyhar.datasets`, holds the recordings
(:class:`~tinyhar.datasets.RecordingSet`); external programs are found by
:mod:`tinyhar.tools`.
"""

from __future__ import annotations

from tinyhar.core.spec import WindowSpec
from tinyhar.core.windowset import WindowSet, load_windows, save_windows

__all__ = ["WindowSet", "WindowSpec", "load_windows", "save_windows"]

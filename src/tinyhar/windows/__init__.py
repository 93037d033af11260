"""Windows: fixed-length, labelled slices of recordings.

- :class:`WindowSet`: a stack of windows ``(n_windows, n_samples, n_channels)``
  with label, subject, session and start time per window, and
  :class:`WindowSpec`, the layout of one window (both core types, defined in
  :mod:`tinyhar.core` so that data-set loaders below this layer can make them);
- :func:`make_windows`, :class:`WindowingReport`: cut a
  :class:`~tinyhar.datasets.RecordingSet` into windows (:mod:`.windowing`);
  :func:`contiguous_segments` and :func:`majority_labels`, the steps it
  shares with the evaluation of continuous streams.
"""

from __future__ import annotations

from tinyhar.core.spec import WindowSpec
from tinyhar.core.windowfile import load_windows, save_windows
from tinyhar.core.windowset import WindowSet
from tinyhar.windows.windowing import (
    WindowingReport,
    contiguous_segments,
    majority_labels,
    make_windows,
)

__all__ = ["WindowSet", "WindowSpec", "WindowingReport", "contiguous_segments", "load_windows",
           "majority_labels", "make_windows", "save_windows"]

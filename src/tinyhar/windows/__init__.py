"""Windows: fixed-length, labelled slices of recordings.

- :class:`WindowSet`: a stack of windows ``(n_windows, n_samples, n_channels)``
  with label, subject, session and start time per window, and
  :class:`WindowSpec`, the layout of one window (both core types, defined in
  :mod:`tinyhar.core` so that data-set loaders below this layer can make them);
- :func:`make_windows`, :class:`WindowingReport`: cut a
  :class:`~tinyhar.datasets.RecordingSet` into windows (:mod:`.windowing`);
  :func:`majority_labels`, the label rule it shares with the cutters of
  continuous streams;
- :mod:`.cutting`: the rules every cutter follows, written once (gaps,
  :func:`contiguous_segments`, window starts, ambiguous windows) and
  :class:`WindowCursor`, which applies them to rows read in batches.
"""

from __future__ import annotations

from tinyhar.core.spec import WindowSpec
from tinyhar.core.windowfile import load_windows, save_windows
from tinyhar.core.windowset import WindowSet
from tinyhar.windows.cutting import WindowCursor, contiguous_segments
from tinyhar.windows.windowing import WindowingReport, majority_labels, make_windows

__all__ = ["WindowCursor", "WindowSet", "WindowSpec", "WindowingReport", "contiguous_segments",
           "load_windows", "majority_labels", "make_windows", "save_windows"]

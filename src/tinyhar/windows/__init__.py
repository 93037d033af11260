"""Windows: fixed-length, labelled slices of recordings.

- :class:`WindowSet`: a stack of windows ``(n_windows, n_samples, n_channels)``
  with label, subject, session and start time per window (:mod:`.windowset`);
- :func:`make_windows`, :class:`WindowingReport`: cut a
  :class:`~tinyhar.datasets.RecordingSet` into windows (:mod:`.windowing`);
  :func:`contiguous_segments` and :func:`majority_labels`, the steps it
  shares with the evaluation of continuous streams.
"""

from __future__ import annotations

from tinyhar.windows.windowing import (
    WindowingReport,
    contiguous_segments,
    majority_labels,
    make_windows,
)
from tinyhar.windows.windowset import WindowSet

__all__ = ["WindowSet", "WindowingReport", "contiguous_segments", "majority_labels",
           "make_windows"]

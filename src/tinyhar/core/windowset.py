"""Fixed-length windows with their labels, subjects and sessions, and their file format.

A :class:`WindowSet` is a core type: data-set loaders of pre-cut windows make
it, :func:`tinyhar.windows.make_windows` makes it from recordings, and every
later stage reads it. Its :attr:`WindowSet.spec` is the
:class:`~tinyhar.core.spec.WindowSpec` the run, the pipeline and the exports
carry; :mod:`tinyhar.core.windowfile` stores a set in a file.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tinyhar.core.channels import channel_unit
from tinyhar.core.ids import natural_key
from tinyhar.core.spec import WindowSpec
from tinyhar.errors import DataFormatError
from tinyhar.validation import check_windows


@dataclass
class WindowSet:
    """A stack of equal-length sensor windows, each with label, subject and session.

    Parameters
    ----------
    X : numpy.ndarray of float32, shape (n_windows, n_samples, n_channels)
        Sensor values; channel ``j`` is named ``channels[j]``; acceleration in
        g, angular rate in rad/s.
    y : numpy.ndarray of str (object), shape (n_windows,)
        Activity name per window (``""`` = unlabelled).
    subject : numpy.ndarray of str (object), shape (n_windows,)
        Subject id per window.
    session : numpy.ndarray of str (object), shape (n_windows,)
        Session id per window.
    start_time : numpy.ndarray of float64, shape (n_windows,)
        Time of the first sample of each window, in s from the session start
        (NaN when unknown, e.g. for pre-windowed data sets).
    channels : list of str
        Channel names, e.g. ``["acc_x", "acc_y", "acc_z"]``.
    sampling_rate_hz : float
        Sampling rate in Hz.
    classes : list of str
        Label vocabulary in a fixed order.
    name : str
        Data set name, for reports.
    split : numpy.ndarray of str (object), shape (n_windows,), optional
        The publisher's split per window (``"train"``/``"test"``) when it has one.
    info : dict
        Free-form notes of the loader.
    hop_samples : int or None
        Samples between the starts of consecutive windows of a session, as cut
        by :func:`tinyhar.windows.make_windows`; None for windows cut before
        tinyhar saw them.

    Raises
    ------
    DataFormatError
        If the arrays do not agree in length or ``X`` is not 3-D.
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    session: np.ndarray
    start_time: np.ndarray
    channels: list[str]
    sampling_rate_hz: float
    classes: list[str]
    name: str = "windows"
    split: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    hop_samples: int | None = None

    def __post_init__(self) -> None:
        self.X = check_windows(self.X, source=self.name)  # tinyhar.validation
        n = self.X.shape[0]
        self.y = np.asarray(self.y, dtype=object)
        self.subject = np.asarray([str(s) for s in self.subject], dtype=object)
        self.session = np.asarray([str(s) for s in self.session], dtype=object)
        self.start_time = np.asarray(self.start_time, dtype=np.float64)
        if self.split is not None:
            self.split = np.asarray(self.split, dtype=object)
        for key in ("y", "subject", "session", "start_time") + (
            ("split",) if self.split is not None else ()
        ):
            if len(getattr(self, key)) != n:
                raise DataFormatError(
                    self.name, f"{key} has {len(getattr(self, key))} entries for {n} windows"
                )
        if len(self.channels) != self.X.shape[2]:
            raise DataFormatError(
                self.name, f"{len(self.channels)} channel names for {self.X.shape[2]} channels"
            )
        self.channels = list(self.channels)
        self.classes = [str(c) for c in self.classes]
        if self.hop_samples is not None:
            self.hop_samples = int(self.hop_samples)

    @property
    def spec(self) -> WindowSpec:
        """The :class:`~tinyhar.core.spec.WindowSpec` of these windows.

        Raises
        ------
        DataFormatError
            A set without channels or samples, or a bad rate or hop.
        """
        return WindowSpec(
            tuple(self.channels), tuple(self.units), self.sampling_rate_hz, self.n_samples,
            self.hop_samples,
        )

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_samples(self) -> int:
        """Samples per window."""
        return int(self.X.shape[1])

    @property
    def window_s(self) -> float:
        """Window length in seconds."""
        return self.n_samples / self.sampling_rate_hz

    @property
    def subjects(self) -> list[str]:
        """Distinct subject ids in natural order."""
        return sorted(set(self.subject.tolist()), key=natural_key)

    @property
    def units(self) -> list[str]:
        """Unit of each channel (``g``, ``rad/s``; ``"1"`` for unknown)."""
        return [channel_unit(c) for c in self.channels]

    def subset(self, mask: np.ndarray) -> WindowSet:
        """Windows selected by a boolean mask or an index array of shape (n_windows,) / (k,)."""
        return WindowSet(
            self.X[mask],
            self.y[mask],
            self.subject[mask],
            self.session[mask],
            self.start_time[mask],
            self.channels,
            self.sampling_rate_hz,
            self.classes,
            self.name,
            None if self.split is None else self.split[mask],
            dict(self.info),
            self.hop_samples,
        )

    def select_channels(self, channels: Sequence[str]) -> WindowSet:
        """Keep only the named channels, in the given order.

        Returns
        -------
        WindowSet
            A new set with copies of the per-window arrays. Its ``X``, shape
            ``(n_windows, n_samples, len(channels))``, is a contiguous copy of
            the selected channels, or ``self.X`` itself (not copied) when the
            channels are already these, in this order.

        Raises
        ------
        DataFormatError
            If a channel is not present; the message lists those available.
        """
        missing = [c for c in channels if c not in self.channels]
        if missing:
            raise DataFormatError(
                self.name, f"channels {missing} are not available (have {self.channels})"
            )
        idx = [self.channels.index(c) for c in channels]
        out = copy.copy(self)  # X is checked already: not again
        for key in ("y", "subject", "session", "start_time", "split"):
            if getattr(self, key) is not None:
                setattr(out, key, getattr(self, key).copy())
        out.info = dict(self.info)
        if idx != list(range(self.X.shape[2])):
            out.X = np.ascontiguousarray(self.X[:, :, idx])
        out.channels = list(channels)
        return out

    def class_counts(self) -> dict[str, int]:
        """Number of windows per class, in class order (classes with 0 included)."""
        return {c: int(np.count_nonzero(self.y == c)) for c in self.classes}


"""The window specification: what one model input window is.

A :class:`WindowSpec` is made once, when windows are cut
(:func:`tinyhar.windows.make_windows`, or a loader of pre-cut windows), and
then carried unchanged by the :class:`~tinyhar.core.windowset.WindowSet`, the
fitted pipeline (saved in ``pipeline.npz``), the run folder and every export
(C header, MicroPython bundle, ``tinyhar simulate``). Nothing downstream
recomputes the window length, the hop or the channel units.

The hop of a *stream* (how far a device advances between two classified
windows) is :attr:`WindowSpec.streaming_hop`: the training hop, or, for data
cut into windows before tinyhar saw it (no known hop), half a window, the 50 %
overlap of UCI HAR (Anguita et al. 2013, ESANN) and most HAR data sets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tinyhar.core.channels import channel_unit
from tinyhar.errors import DataFormatError

SPEC_KEYS = ("channels", "units", "sampling_rate_hz", "n_samples", "hop_samples")
"""The stored fields of a spec, in the order :meth:`WindowSpec.to_dict` writes them."""


def default_streaming_hop(n_samples: int, hop_samples: int | None) -> int:
    """Samples between two classified windows of a sample stream.

    The one rule for the stream hop of every back-end: the training hop when
    it is known, else half a window (50 % overlap), at least 1 sample.

    Parameters
    ----------
    n_samples : int
        Samples per window.
    hop_samples : int or None
        Hop between training windows in samples; None when unknown.

    Returns
    -------
    int
    """
    if hop_samples:
        return int(hop_samples)
    return max(1, int(n_samples) // 2)


@dataclass(frozen=True)
class WindowSpec:
    """Layout of a model input window: channels, units, sampling rate, length, hop.

    Parameters
    ----------
    channels : tuple of str
        Channel names in input order, e.g. ``("acc_x", "acc_y", "acc_z")``.
    units : tuple of str
        Unit of each channel (``"g"``, ``"rad/s"``, ``"1"`` for unknown).
    sampling_rate_hz : float
        Sampling rate in Hz.
    n_samples : int
        Samples per window.
    hop_samples : int or None
        Samples between the starts of two consecutive training windows; None
        for data cut into windows before tinyhar saw it.

    Raises
    ------
    DataFormatError
        A field out of range (no channels, a units list of another length, a
        rate that is not a positive finite number, fewer than 1 sample, a hop
        below 1).
    """

    channels: tuple[str, ...]
    units: tuple[str, ...]
    sampling_rate_hz: float
    n_samples: int
    hop_samples: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(str(c) for c in self.channels))
        object.__setattr__(self, "units", tuple(str(u) for u in self.units))
        problems = []
        if not self.channels:
            problems.append("no channels")
        if len(self.units) != len(self.channels):
            problems.append(f"{len(self.units)} units for {len(self.channels)} channels")
        try:
            rate = float(self.sampling_rate_hz)
        except (TypeError, ValueError):
            rate = math.nan
        if not (math.isfinite(rate) and rate > 0):
            problems.append(f"sampling_rate_hz {self.sampling_rate_hz!r} is not a positive number")
        if not _is_int(self.n_samples) or int(self.n_samples) < 1:
            problems.append(f"n_samples {self.n_samples!r} is not a whole number >= 1")
        if self.hop_samples is not None and (
            not _is_int(self.hop_samples) or int(self.hop_samples) < 1
        ):
            problems.append(f"hop_samples {self.hop_samples!r} is not a whole number >= 1")
        if problems:
            raise DataFormatError("window spec", "; ".join(problems))
        object.__setattr__(self, "sampling_rate_hz", rate)
        object.__setattr__(self, "n_samples", int(self.n_samples))
        if self.hop_samples is not None:
            object.__setattr__(self, "hop_samples", int(self.hop_samples))

    @classmethod
    def of(
        cls,
        channels: Sequence[str],
        sampling_rate_hz: float,
        n_samples: int,
        hop_samples: int | None = None,
    ) -> WindowSpec:
        """A spec whose units follow from the channel names (:func:`channel_unit`).

        Parameters
        ----------
        channels : sequence of str
            Channel names in input order.
        sampling_rate_hz : float
            Sampling rate in Hz.
        n_samples : int
            Samples per window.
        hop_samples : int or None
            Training hop in samples (None when unknown).

        Returns
        -------
        WindowSpec
        """
        return cls(
            tuple(channels), tuple(channel_unit(c) for c in channels), sampling_rate_hz,
            n_samples, hop_samples,
        )

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return len(self.channels)

    @property
    def streaming_hop(self) -> int:
        """Samples between two classified windows of a stream (:func:`default_streaming_hop`).

        The single source of the hop of the C export (``TINYHAR_HOP_SAMPLES``),
        the MicroPython export (``HOP``) and ``tinyhar simulate``.
        """
        return default_streaming_hop(self.n_samples, self.hop_samples)

    @property
    def window_s(self) -> float:
        """Window length in s."""
        return self.n_samples / self.sampling_rate_hz

    @property
    def hop_s(self) -> float:
        """Stream hop in s (:attr:`streaming_hop` / rate)."""
        return self.streaming_hop / self.sampling_rate_hz

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_samples, n_channels)``: the shape of one window."""
        return (self.n_samples, self.n_channels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (:data:`SPEC_KEYS`) plus ``streaming_hop`` for readers.

        Returns
        -------
        dict
            ``channels`` and ``units`` (lists), ``sampling_rate_hz``,
            ``n_samples``, ``hop_samples`` (None when unknown) and
            ``streaming_hop`` (derived; checked by :meth:`from_dict`).
        """
        return {
            "channels": list(self.channels),
            "units": list(self.units),
            "sampling_rate_hz": self.sampling_rate_hz,
            "n_samples": self.n_samples,
            "hop_samples": self.hop_samples,
            "streaming_hop": self.streaming_hop,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "window spec") -> WindowSpec:
        """The spec :meth:`to_dict` wrote.

        Parameters
        ----------
        data : mapping
            As written by :meth:`to_dict`.
        source : str
            File or key it was read from, for messages.

        Returns
        -------
        WindowSpec

        Raises
        ------
        DataFormatError
            Not a mapping, a key missing, a field out of range, or a stored
            ``streaming_hop`` that contradicts the rule (a file edited by hand or
            written by another program).
        """
        if not isinstance(data, Mapping):
            raise DataFormatError(source, f"the window spec is not a mapping: {data!r}")
        missing = [k for k in SPEC_KEYS if k not in data]
        if missing:
            raise DataFormatError(source, f"the window spec lacks {missing}")
        channels, units = data["channels"], data["units"]
        if not isinstance(channels, list | tuple) or not isinstance(units, list | tuple):
            raise DataFormatError(source, "window spec channels and units must be lists")
        try:
            spec = cls(
                tuple(channels), tuple(units), data["sampling_rate_hz"], data["n_samples"],
                data["hop_samples"],
            )
        except DataFormatError as exc:
            raise DataFormatError(source, str(exc).removeprefix("window spec: ")) from None
        stored = data.get("streaming_hop")
        if stored is not None and stored != spec.streaming_hop:
            raise DataFormatError(
                source,
                f"window spec streaming_hop {stored!r} differs from {spec.streaming_hop} "
                "(the hop_samples, or half a window when it is unknown): the file was altered",
            )
        return spec

    def describe(self) -> str:
        """One line for people: ``128 samples (2.56 s) at 50 Hz, hop 64, acc_x [g], ...``."""
        chans = ", ".join(f"{c} [{u}]" for c, u in zip(self.channels, self.units, strict=True))
        hop = f"hop {self.hop_samples}" if self.hop_samples else (
            f"pre-cut windows, stream hop {self.streaming_hop}"
        )
        return (
            f"{self.n_samples} samples ({self.window_s:g} s) at {self.sampling_rate_hz:g} Hz, "
            f"{hop}; {chans}"
        )


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return int(value) == value
    except (TypeError, ValueError, OverflowError):
        return False

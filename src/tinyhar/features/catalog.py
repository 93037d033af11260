"""The documented catalog of tinyhar's hand-crafted features.

:func:`feature_catalog` lists, for a channel layout and a feature set, every
feature :class:`~tinyhar.features.FeatureExtractor` computes, in output order,
each with its unit, a one-line definition precise enough to re-implement, its
source, and a group label (the stage of the computation, for cost reports).

The fact tables behind it (the per-signal statistics, the derived signals,
the feature-set names, ``MIN_STD``) are in :mod:`tinyhar.features.plan`, which
also compiles a layout and a window length into the plan every back-end runs.

Conventions used by every definition (one window of ``N`` samples at ``fs`` Hz):

* All arithmetic is float32; no statistic of the data set is used, only the
  window (so every feature can be computed on a microcontroller with libm and
  fixed-size buffers).
* ``mean(x) = sum(x) / N``; ``std`` is the population standard deviation
  (``ddof=0``) computed in two passes, ``sqrt(sum((x - mean)^2) / N)``.
* Percentiles use linear interpolation on the ascending sorted window ``s``
  (numpy's default ``method="linear"``, Hyndman & Fan 1996 type 7):
  ``h = p * (N - 1)``, ``i = floor(h)``, ``q = s[i] + (h - i) * (s[i+1] - s[i])``
  (``q = s[N-1]`` when ``i = N - 1``). For ``N = 128``: p25 at ``h = 31.75``,
  median at ``63.5``, p75 at ``95.25``.
* Spectra: ``d = x - mean(x)`` (mean removal only; no window function, no
  detrending), the plain DFT ``X_k = sum_n d[n] exp(-2 pi i k n / N)`` of the
  window length (``numpy.fft.rfft``), bins ``k = 1 .. K`` with
  ``K = floor(N / 2)``, frequency ``f_k = k * fs / N`` and one-sided power
  ``S_k = c_k |X_k|^2 / N^2`` with ``c_k = 1`` for the Nyquist bin
  (``2k = N``) and ``2`` otherwise, so that ``sum_k S_k = std(x)^2``
  (Parseval). A flat window, ``sum_k S_k < MIN_STD^2`` (``MIN_STD = 1e-6`` in
  the signal's unit, far below any sensor's resolution; a constant window's
  rounding noise stays below it), gets 0 for every spectral feature.

* Gravity: ``grav = x0 + sosfilt(sos, x - x0)`` per accelerometer axis, with
  ``sos`` the float32 second-order sections of a low-pass Butterworth filter
  (default 3rd order, 0.3 Hz, Anguita et al. 2013) from
  :func:`tinyhar.features.filters.gravity_sos` and ``x0`` the window's first
  sample (the filter starts in the steady state of ``x0``); ``body = acc - grav``.
  ``G`` is the mean of ``grav`` over the window and ``u = G / |G|``.

Notes for a float32 device port: sums in numpy use pairwise summation, so a
sequential float32 loop differs in the last bits (accumulate in double, or
compare with a relative tolerance of about 1e-5); mean-crossing counts can
then differ by one when a sample equals the mean to float32 precision; the
DFT of a window length that is not a power of two needs a mixed-radix FFT or
a direct DFT (128 samples is recommended).

Group labels: ``time`` (statistics of the raw channels and their magnitudes),
``gravity`` (the low-pass gravity estimate), ``orientation`` (tilt angles of
the mean gravity), ``body`` (body acceleration = total - gravity),
``orientation-independent`` (body acceleration split along / across the mean
gravity direction), ``jerk`` (time derivatives), ``correlation`` (between
axes), ``spectral`` (DFT features), ``enmo`` (Euclidean norm minus one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tinyhar.datasets.recording import ACC_CHANNELS, GYRO_CHANNELS
from tinyhar.errors import ConfigError, DataFormatError
from tinyhar.features.plan import (
    DERIVED_SIGNALS,
    FEATURE_SETS,
    GRAVITY_SIGNALS,
    MIN_STD,
    STATISTICS,
    band_bins,
    band_label,
    channel_unit,
    time_stats,
)

__all__ = [
    "ACC_AXES",
    "MIN_STD",
    "DEFAULT_BANDS_HZ",
    "DEFAULT_CHANNELS",
    "FEATURE_GROUPS",
    "FEATURE_SETS",
    "GYRO_AXES",
    "LIGHT_AXIS_STATS",
    "TIME_STATS",
    "FeatureInfo",
    "FeatureLayout",
    "feature_catalog",
    "feature_layout",
]

ACC_AXES = ACC_CHANNELS
"""Accelerometer channel names (total acceleration in g), in x, y, z order."""

GYRO_AXES = GYRO_CHANNELS
"""Gyroscope channel names (angular rate in rad/s), in x, y, z order."""

DEFAULT_CHANNELS = ACC_AXES + GYRO_AXES
"""Default channel layout: accelerometer then gyroscope."""

DEFAULT_BANDS_HZ: tuple[tuple[float, float], ...] = (
    (0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 5.0), (5.0, 10.0),
)
"""Default spectral bands ``(lo, hi]`` in Hz.

They cover the range of human movement (gait cadence about 1.5-2.5 Hz and its
harmonics; Bao & Intille 2004 and Anguita et al. 2013 used band energies) and
need a sampling rate of at least 20 Hz (highest edge 10 Hz = Nyquist).
"""

FEATURE_GROUPS = (
    "time", "gravity", "orientation", "body", "orientation-independent",
    "jerk", "correlation", "spectral", "enmo",
)
"""Group labels, in the order the groups appear in the output."""

TIME_STATS = time_stats("default")
"""The per-signal time statistics of the ``default`` set, in output order.

The order and the definitions are those of the statistic table
:data:`tinyhar.features.plan.STATISTICS` (``time_stats(feature_set)`` gives
the statistics of another set).
"""


def _pick(*names: str) -> tuple[str, ...]:
    """``names`` in the order of the statistic table."""
    return tuple(s.name for s in STATISTICS if s.name in names)


LIGHT_AXIS_STATS = _pick("mean", "std", "min", "max", "rms", "mcr")
"""Time statistics of the accelerometer axes in the ``light`` set (no sort needed)."""

_JERK_STATS_DEFAULT = _pick("mean", "std", "max", "rms")
_SRC_GRAV = (
    "Anguita et al. (2013), ESANN: 3rd-order 0.3 Hz Butterworth gravity filter; "
    "Butterworth (1930)"
)
_SRC_TILT = "Pedley (2013), Freescale AN3461 'Tilt sensing using a three-axis accelerometer'"
_SRC_SMA = "Karantonis et al. (2006), IEEE Trans. Inf. Technol. Biomed. 10(1):156"
_SRC_VH = "Mizell (2003), ISWC 'Using gravity to estimate accelerometer orientation'"
_SRC_JERK = "Anguita et al. (2013), ESANN (jerk signals)"
_SRC_CORR = "Pearson (1895); Bao & Intille (2004), Pervasive; Ravi et al. (2005), AAAI"
_SRC_BAND = "Bao & Intille (2004), Pervasive (FFT energy); Anguita et al. (2013) (band energy)"
_SRC_DOM = "Huynh & Schiele (2005), sOc-EUSAI (FFT peak frequency)"
_SRC_ENT = (
    "Powell & Percival (1979), J. Phys. A 12(11):2053; Inouye et al. (1991), "
    "Electroencephalogr. Clin. Neurophysiol. 79(3):204"
)
_SRC_CEN = "Peeters (2004), IRCAM CUIDADO report (spectral centroid)"
_SRC_ENMO = "van Hees et al. (2013), PLoS ONE 8(4):e61691"


@dataclass(frozen=True)
class FeatureInfo:
    """Description of one feature.

    Attributes
    ----------
    name : str
        Column name, as in :meth:`FeatureExtractor.get_feature_names_out`.
    unit : str
        Physical unit (``g``, ``rad/s``, ``g/s``, ``rad/s^2``, ``g^2``, ``(rad/s)^2``, ``Hz``,
        ``rad``, ``1`` for dimensionless).
    definition : str
        One-line definition, with the conventions of this module's docstring.
    source : str
        Paper or standard the feature comes from.
    group : str
        Computation stage, one of :data:`FEATURE_GROUPS`.
    """

    name: str
    unit: str
    definition: str
    source: str
    group: str


@dataclass(frozen=True)
class FeatureLayout:
    """What a feature set computes for a channel layout (used by the extractor).

    Attributes
    ----------
    channels : tuple of str
        Channel names, in the order of the last axis of the windows.
    feature_set : str
        One of :data:`FEATURE_SETS`.
    sampling_rate_hz : float
        Sampling rate in Hz.
    acc_index, gyro_index : tuple of int or None
        Column indices of ``acc_x, acc_y, acc_z`` / ``gyro_x, gyro_y, gyro_z``
        (``None`` when the sensor is absent).
    other_channels : tuple of (int, str)
        Index and name of each channel with no sensor role.
    bands_hz : tuple of (float, float)
        Spectral bands ``(lo, hi]`` in Hz.
    stat_blocks : tuple of (str, str, tuple of str)
        ``(group, signal, stats)`` for every signal that gets time statistics.
    spectral_signals : tuple of str
        Signals that get spectral features.
    features : list of FeatureInfo
        The catalog, in output order.
    """

    channels: tuple[str, ...]
    feature_set: str
    sampling_rate_hz: float
    acc_index: tuple[int, int, int] | None
    gyro_index: tuple[int, int, int] | None
    other_channels: tuple[tuple[int, str], ...]
    bands_hz: tuple[tuple[float, float], ...]
    stat_blocks: tuple[tuple[str, str, tuple[str, ...]], ...]
    spectral_signals: tuple[str, ...]
    features: list[FeatureInfo] = field(default_factory=list)

    @property
    def uses_gravity(self) -> bool:
        """Whether the gravity filter runs (accelerometer present; default, full or invariant
        set)."""
        return self.acc_index is not None and self.feature_set in _GRAVITY_SETS

    @property
    def orientation_invariant(self) -> bool:
        """Whether the set holds only rotation-invariant features (``invariant``: no per-axis
        statistic or spectrum, mean gravity, tilt angle, SMA or axis correlation)."""
        return self.feature_set in _INVARIANT_SETS

    @property
    def names(self) -> list[str]:
        """Feature names in output order."""
        return [f.name for f in self.features]

    def min_samples(self) -> int:
        """Smallest window length (samples) this layout accepts."""
        return 2 if not self.spectral_signals else 4


def feature_layout(
    channels: Sequence[str] = DEFAULT_CHANNELS,
    feature_set: str = "default",
    sampling_rate_hz: float = 50.0,
    bands_hz: Sequence[Sequence[float]] | None = None,
) -> FeatureLayout:
    """Resolve channel roles and the features of a set.

    Parameters
    ----------
    channels : sequence of str
        Channel names in window order. ``acc_x, acc_y, acc_z`` (all three or
        none) form the accelerometer (g), ``gyro_x, gyro_y, gyro_z`` the
        gyroscope (rad/s); any other name gets per-channel time statistics.
    feature_set : {"minimal", "light", "default", "full", "invariant"}
        See :data:`FEATURE_SETS`.
    sampling_rate_hz : float
        Sampling rate in Hz.
    bands_hz : sequence of (lo, hi), optional
        Spectral bands in Hz (``0 <= lo < hi <= sampling_rate_hz / 2``);
        default :data:`DEFAULT_BANDS_HZ`.

    Returns
    -------
    FeatureLayout

    Raises
    ------
    ConfigError
        Unknown feature set, empty/duplicate channel names, an incomplete
        accelerometer or gyroscope triad (the message names the missing
        channel), a non-positive sampling rate, or a band above the Nyquist
        frequency (the message gives the sampling rate needed).
    """
    if feature_set not in FEATURE_SETS:
        raise ConfigError(
            f"feature_set must be one of {list(FEATURE_SETS)}, got {feature_set!r}"
        )
    if isinstance(channels, str):
        raise ConfigError(
            f"channels must be a sequence of channel names, got the string {channels!r}"
        )
    try:
        chans = tuple(str(c) for c in channels)
    except TypeError:
        raise ConfigError(f"channels must be a sequence of names, got {channels!r}") from None
    if not chans:
        raise ConfigError("channels is empty; give at least one channel name, e.g. 'acc_x'")
    dup = sorted({c for c in chans if chans.count(c) > 1})
    if dup:
        raise ConfigError(f"channels has duplicate names {dup}: {list(chans)}")
    try:
        fs = float(sampling_rate_hz)
    except (TypeError, ValueError):
        raise ConfigError(f"sampling_rate_hz must be a number, got {sampling_rate_hz!r}") from None
    if not np.isfinite(fs) or fs <= 0:
        raise ConfigError(f"sampling_rate_hz must be positive, got {sampling_rate_hz!r}")

    acc_index = _triad(chans, ACC_AXES, "accelerometer")
    gyro_index = _triad(chans, GYRO_AXES, "gyroscope")
    others = tuple(
        (i, c) for i, c in enumerate(chans) if c not in ACC_AXES and c not in GYRO_AXES
    )
    clash = [c for _, c in others if c in _RESERVED_SIGNALS]
    if clash:
        raise ConfigError(
            f"channel name(s) {clash} are reserved for signals the extractor derives "
            f"({sorted(_RESERVED_SIGNALS)}); rename the channel(s)"
        )

    full = feature_set == "full"
    light = feature_set == "light"
    minimal = feature_set in ("minimal", "light")  # no gravity filter, jerk
    invariant = feature_set in _INVARIANT_SETS  # magnitudes and vertical/horizontal only
    has_acc, has_gyro = acc_index is not None, gyro_index is not None

    stats_all = time_stats(feature_set)  # a complete block of this set
    blocks: list[tuple[str, str, tuple[str, ...]]] = []
    if has_acc:
        # invariant: the axes get no statistics (an empty block: the plan still
        # holds them as the input of the magnitude, gravity and jerk stages)
        axis_stats = () if invariant else LIGHT_AXIS_STATS if light else stats_all
        blocks += [("time", s, axis_stats) for s in ACC_AXES]
        blocks.append(("time", "acc_mag", stats_all))
    if has_gyro:
        blocks += [("time", s, () if invariant else stats_all) for s in GYRO_AXES]
        blocks.append(("time", "gyro_mag", stats_all))
    blocks += [("time", c, stats_all) for _, c in others]
    if has_acc and not minimal:
        if full:
            blocks += [("body", s, stats_all) for s in ("body_x", "body_y", "body_z")]
        blocks.append(("body", "body_mag", stats_all))
        blocks += [("orientation-independent", s, stats_all) for s in ("body_vert", "body_horiz")]
    jerk_stats = stats_all if full or invariant else _JERK_STATS_DEFAULT
    if not minimal:
        if has_acc:
            blocks.append(("jerk", "acc_jerk_mag", jerk_stats))
        if has_gyro:
            blocks.append(("jerk", "gyro_jerk_mag", jerk_stats))

    spectral: list[str] = []
    if light and has_acc:
        spectral.append("acc_mag")
    if not minimal:
        if has_acc:
            spectral += ["body_mag", "body_vert", "body_horiz"]
            spectral += [] if invariant else list(ACC_AXES)
        if has_gyro:
            spectral.append("gyro_mag")
            spectral += [] if invariant else list(GYRO_AXES)

    bands = _check_bands(
        DEFAULT_BANDS_HZ if bands_hz is None else bands_hz, fs, check_nyquist=bool(spectral)
    )
    layout = FeatureLayout(
        channels=chans,
        feature_set=feature_set,
        sampling_rate_hz=fs,
        acc_index=acc_index,
        gyro_index=gyro_index,
        other_channels=others,
        bands_hz=bands,
        stat_blocks=tuple(blocks),
        spectral_signals=tuple(spectral),
    )
    layout.features.extend(_describe(layout))
    names = layout.names
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(
            f"channel names {[c for _, c in others]} produce feature names that clash with "
            f"built-in features {dup}; rename the channel(s)"
        )
    return layout


def feature_catalog(
    channels: Sequence[str] = DEFAULT_CHANNELS,
    feature_set: str = "default",
    sampling_rate_hz: float = 50.0,
    bands_hz: Sequence[Sequence[float]] | None = None,
) -> list[FeatureInfo]:
    """List the features of a set for a channel layout, in output order.

    Parameters
    ----------
    channels : sequence of str, default ``("acc_x", ..., "gyro_z")``
        Channel names in window order (see :func:`feature_layout`).
    feature_set : {"minimal", "light", "default", "full", "invariant"}, default "default"
        See :data:`FEATURE_SETS`.
    sampling_rate_hz : float, default 50.0
        Sampling rate in Hz (enters the jerk, crossing-rate and spectral
        definitions and the band check).
    bands_hz : sequence of (lo, hi), optional
        Spectral bands in Hz; default :data:`DEFAULT_BANDS_HZ`.

    Returns
    -------
    list of FeatureInfo
        One entry per output column of
        :meth:`tinyhar.features.FeatureExtractor.transform`, with the same
        names as ``get_feature_names_out()``.

    Raises
    ------
    ConfigError
        As :func:`feature_layout`.

    Examples
    --------
    >>> from tinyhar.features import feature_catalog
    >>> [f.name for f in feature_catalog(("acc_x", "acc_y", "acc_z"), "minimal")][:3]
    ['acc_x_mean', 'acc_x_std', 'acc_x_min']
    """
    return list(feature_layout(channels, feature_set, sampling_rate_hz, bands_hz).features)


# --------------------------------------------------------------------------- helpers


def _triad(
    chans: tuple[str, ...], axes: tuple[str, str, str], sensor: str
) -> tuple[int, int, int] | None:
    present = [a for a in axes if a in chans]
    if not present:
        return None
    missing = [a for a in axes if a not in chans]
    if missing:
        raise ConfigError(
            f"{sensor} features need all of {list(axes)}; channel(s) {missing} missing "
            f"from channels {list(chans)} (rename a channel or drop {present})"
        )
    return tuple(chans.index(a) for a in axes)  # type: ignore[return-value]


def _check_bands(
    bands: Sequence[Sequence[float]], fs: float, check_nyquist: bool = True
) -> tuple[tuple[float, float], ...]:
    out = []
    try:
        pairs = [tuple(float(v) for v in b) for b in bands]
    except (TypeError, ValueError):
        raise ConfigError(f"bands_hz must be a sequence of (lo, hi) pairs, got {bands!r}") from None
    if not pairs:
        raise ConfigError("bands_hz is empty; give at least one (lo, hi) band in Hz")
    for b in pairs:
        if len(b) != 2 or not (0 <= b[0] < b[1]) or not np.isfinite(b[1]):
            raise ConfigError(f"each band must be (lo, hi) with 0 <= lo < hi in Hz, got {b}")
        if check_nyquist and b[1] > fs / 2 + 1e-9:
            raise ConfigError(
                f"sampling rate {fs:g} Hz is too low for the spectral band "
                f"{b[0]:g}-{b[1]:g} Hz: the band needs a Nyquist frequency of at least "
                f"{b[1]:g} Hz (sampling rate >= {2 * b[1]:g} Hz). Drop the spectral features "
                "with features.set: minimal in the training configuration "
                "(FeatureExtractor(feature_set='minimal') in Python), or give bands up to "
                f"{fs / 2:g} Hz: features.bands_hz, e.g. [[0, {fs / 8:g}], "
                f"[{fs / 8:g}, {fs / 4:g}], [{fs / 4:g}, {fs / 2:g}]] "
                "(FeatureExtractor(bands_hz=...) in Python)"
            )
        out.append((b[0], b[1]))
    return tuple(out)


def check_window_length(layout: FeatureLayout, n_samples: int) -> None:
    """Raise DataFormatError if ``n_samples`` is too short for ``layout``.

    Parameters
    ----------
    layout : FeatureLayout
    n_samples : int
        Samples per window.

    Raises
    ------
    DataFormatError
        If the window has fewer samples than the statistics need (2 for
        crossing rates and jerk, 4 for spectra) or if a spectral band holds no
        DFT bin (frequency resolution ``fs / N`` coarser than the band).
    """
    need = layout.min_samples()
    if n_samples < need:
        raise DataFormatError(
            "X", f"window too short: {n_samples} samples per window, the "
            f"{layout.feature_set!r} feature set needs at least {need}"
        )
    if layout.spectral_signals:
        fs = layout.sampling_rate_hz
        bins = band_bins(fs, n_samples, layout.bands_hz)
        for (lo, hi), (k0, k1) in zip(layout.bands_hz, bins, strict=True):
            if k1 <= k0:
                res = fs / n_samples
                raise DataFormatError(
                    "X", f"window too short for the spectral band {lo:g}-{hi:g} Hz: "
                    f"{n_samples} samples at {fs:g} Hz ({n_samples / fs:g} s) give a "
                    f"frequency resolution of {res:g} Hz and no DFT bin in the band; "
                    f"use windows of at least {int(np.ceil(fs / (hi - lo)))} samples or "
                    f"wider bands_hz"
                )


_GRAVITY_SETS = ("default", "full", "invariant")
"""Feature sets that run the gravity filter (with an accelerometer)."""
_INVARIANT_SETS = ("invariant",)
"""Feature sets of rotation-invariant features only."""
_STAT_DEF = {s.name: (s.definition, s.source) for s in STATISTICS}
_SIGNAL_DEF = {s.name: (s.unit, s.definition) for s in DERIVED_SIGNALS}
_RESERVED_SIGNALS = frozenset(_SIGNAL_DEF) | frozenset(GRAVITY_SIGNALS)
_STAT_UNIT = {s.name: s.unit for s in STATISTICS}


def _signal_info(signal: str) -> tuple[str, str]:
    if signal in _SIGNAL_DEF:
        return _SIGNAL_DEF[signal]
    if signal in ACC_AXES:
        return "g", f"total acceleration (gravity included), channel {signal}"
    if signal in GYRO_AXES:
        return "rad/s", f"angular rate, channel {signal}"
    return channel_unit(signal), f"channel {signal} as given"


def _signal_source(signal: str) -> str:
    if signal.startswith("body_vert") or signal.startswith("body_horiz"):
        return _SRC_VH
    if signal.startswith("body_"):
        return _SRC_GRAV
    if "jerk" in signal:
        return _SRC_JERK
    return ""


def _join_src(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _describe(layout: FeatureLayout) -> list[FeatureInfo]:
    fs = layout.sampling_rate_hz
    out: list[FeatureInfo] = []
    has_acc = layout.acc_index is not None
    has_gyro = layout.gyro_index is not None
    per_axis = not layout.orientation_invariant  # SMA, mean gravity, tilt, correlations
    grouped = {g: [] for g in FEATURE_GROUPS}  # type: dict[str, list[FeatureInfo]]

    for group, sig, stats in layout.stat_blocks:
        unit, sdef = _signal_info(sig)
        for st in stats:
            sdesc, src = _STAT_DEF[st]
            grouped[group].append(FeatureInfo(
                name=f"{sig}_{st}",
                unit=unit if _STAT_UNIT[st] == "signal" else _STAT_UNIT[st],
                definition=f"{sdesc}; x = {sdef}",
                source=_join_src(src, _signal_source(sig)),
                group=group,
            ))

    if has_gyro and per_axis:
        grouped["time"].append(FeatureInfo(
            "gyro_sma", "rad/s",
            "signal magnitude area: sum over samples of (|gyro_x|+|gyro_y|+|gyro_z|) / N",
            _SRC_SMA, "time",
        ))

    if layout.uses_gravity and per_axis:
        for ax in "xyz":
            grouped["gravity"].append(FeatureInfo(
                f"grav_{ax}_mean", "g",
                f"mean over the window of grav_{ax}, the gravity estimate: low-pass Butterworth "
                f"(SOS, float32) of acc_{ax} from the steady state of its first sample "
                f"(grav = x0 + sosfilt(sos, x - x0))",
                _SRC_GRAV, "gravity",
            ))
        for ax, others in (("x", "y,z"), ("y", "x,z"), ("z", "x,y")):
            o1, o2 = others.split(",")
            grouped["orientation"].append(FeatureInfo(
                f"tilt_{ax}", "rad",
                f"angle between the {ax} axis and the mean gravity G = (grav_x_mean, "
                f"grav_y_mean, grav_z_mean): atan2(sqrt(G{o1}^2+G{o2}^2), G{ax}), in [0, pi]",
                _SRC_TILT, "orientation",
            ))
        grouped["body"].append(FeatureInfo(
            "body_sma", "g",
            "signal magnitude area: sum over samples of (|body_x|+|body_y|+|body_z|) / N, "
            "body = acc - grav",
            _join_src(_SRC_SMA, _SRC_GRAV), "body",
        ))

    pairs = (("xy", 0, 1), ("xz", 0, 2), ("yz", 1, 2))
    for sensor, present, axes in (("acc", has_acc, ACC_AXES), ("gyro", has_gyro, GYRO_AXES)):
        if not present or not per_axis:
            continue
        for tag, i, j in pairs:
            grouped["correlation"].append(FeatureInfo(
                f"corr_{sensor}_{tag}", "1",
                f"Pearson correlation of {axes[i]} and {axes[j]}: sum(da*db)/(sqrt(sum(da^2))"
                f"*sqrt(sum(db^2))), d = x - mean; 0 if sum(da^2) or sum(db^2) <= N*MIN_STD^2; "
                f"clipped to [-1, 1]",
                _SRC_CORR, "correlation",
            ))

    for sig in layout.spectral_signals:
        unit, sdef = _signal_info(sig)
        for lo, hi in layout.bands_hz:
            grouped["spectral"].append(FeatureInfo(
                f"{sig}_power_{band_label(lo, hi)}", f"({unit})^2" if "/" in unit else f"{unit}^2",
                f"band power: sum of S_k over bins with {lo:g} < f_k <= {hi:g} Hz (the part "
                f"of the variance in the band; 0 for a flat window); x = {sdef}",
                _SRC_BAND, "spectral",
            ))
        grouped["spectral"] += [
            FeatureInfo(
                f"{sig}_dom_freq", "Hz",
                f"dominant frequency f_k = k*fs/N of the first k in 1..K maximising S_k "
                f"(resolution fs/N = {fs:g}/N Hz; 0 for a flat window); x = {sdef}",
                _SRC_DOM, "spectral",
            ),
            FeatureInfo(
                f"{sig}_spec_entropy", "1",
                f"normalised spectral entropy: -sum p_k ln p_k / ln K, p_k = S_k/sum S "
                f"(terms with p_k = 0 count 0), in [0, 1]; 0 for a flat window; x = {sdef}",
                _SRC_ENT, "spectral",
            ),
            FeatureInfo(
                f"{sig}_spec_centroid", "Hz",
                f"spectral centroid: sum f_k S_k / sum S_k (0 for a flat window); x = {sdef}",
                _SRC_CEN, "spectral",
            ),
        ]

    if has_acc:
        grouped["enmo"].append(FeatureInfo(
            "enmo_mean", "g",
            "Euclidean norm minus one: mean over samples of max(acc_mag - 1, 0)",
            _SRC_ENMO, "enmo",
        ))

    for g in FEATURE_GROUPS:
        out.extend(grouped[g])
    return out

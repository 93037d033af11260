"""The compiled feature plan: every fact the feature back-ends share, written once.

tinyhar computes its hand-crafted features three times: in numpy
(:mod:`tinyhar.features.extractor`), in C (:mod:`tinyhar.export.c`) and in
MicroPython (:mod:`tinyhar.export.micropython`). None of them decides what to
compute. :func:`build_plan` compiles a feature set, a channel layout and a
window length into a :class:`FeaturePlan`: the ordered stages (derived
signals, the gravity filter with its float32 coefficients, the FFT size and
the band -> bin map, the statistic slots of each signal, the constants such as
:data:`MIN_STD`) and the output slot of every feature. The numpy extractor
executes the plan; the exporters serialise it (C tables, the MicroPython
configuration) and run fixed kernels over it.

The fact tables of this module are the only place where they are written:

* :data:`STATISTICS` -- the per-signal statistics, in output order, with
  their definitions, sources and the feature sets that use them;
* :data:`DERIVED_SIGNALS` -- the signals computed from the channels
  (magnitudes, body acceleration, vertical / horizontal body acceleration,
  jerk), with units and definitions;
* :data:`SPECTRAL_STATS` -- the spectral features after the band powers;
* :data:`MIN_STD` and :func:`channel_unit`.

Adding a statistic (see ``ARCHITECTURE.md``) means one row in
:data:`STATISTICS` and one kernel in each back-end (numpy ``_time_stats``,
C ``thr_stage_statistics``, MicroPython ``Features._stats``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tinyhar.core.featuresets import FEATURE_SETS as _SET_NAMES
from tinyhar.datasets.recording import ACC_CHANNELS, CHANNEL_UNITS, GYRO_CHANNELS

if TYPE_CHECKING:  # only for annotations: the catalog imports this module
    from tinyhar.features.catalog import FeatureLayout

__all__ = [
    "DERIVED",
    "DERIVED_SIGNALS",
    "FEATURE_SETS",
    "GRAVITY_SIGNALS",
    "MIN_STD",
    "SPECTRAL_STATS",
    "STATISTICS",
    "Band",
    "DerivedSignal",
    "FeaturePlan",
    "GravityStage",
    "LengthConstants",
    "SpectralStage",
    "StatBlock",
    "Statistic",
    "band_bins",
    "band_label",
    "bin_frequencies",
    "build_plan",
    "channel_unit",
    "statistic",
    "time_stats",
]

MIN_STD = 1e-6
"""Standard deviation (in the signal's unit) below which a window counts as flat.

Spectral features of a flat window and correlations involving a flat axis are
0; this makes constant windows (e.g. a quantised axis at rest) give the same
result in every implementation, whatever float rounding leaves in them.
"""

FEATURE_SETS: tuple[str, ...] = _SET_NAMES  # the one list is in tinyhar.core.featuresets
"""Available feature sets: the cheapest to the richest, then ``invariant``.

``minimal``: time statistics of the raw channels and of the acceleration /
angular-rate magnitudes, gyroscope SMA, axis correlations and ENMO (no
filter, no DFT). ``light``: ``minimal`` without the order statistics of the
accelerometer axes (median, p25, p75, iqr:
:data:`tinyhar.features.catalog.LIGHT_AXIS_STATS`, so no sort of the axes)
plus the spectral features of the acceleration magnitude (one DFT; no
gravity filter); chosen by
leave-subjects-out cross-validation on the HAPT training subjects as the
cheapest set clearly more accurate than ``minimal``. ``default``: ``minimal``
plus the gravity filter (mean gravity, tilt angles), body-acceleration
magnitude statistics and SMA, vertical and horizontal body acceleration
statistics, jerk-magnitude statistics, and
spectral features of the body-acceleration magnitude, vertical and horizontal
body acceleration, each accelerometer axis, the angular-rate magnitude and
each gyroscope axis. ``full``: adds time statistics of each body-acceleration
axis and all the time statistics of the jerk magnitudes, and the statistics
of :data:`STATISTICS` that only it lists (skewness) on every complete block.
``invariant``: only features that a rotation of the sensor leaves unchanged
(orientation-invariant; for training on data whose mounting varies): the
complete statistic blocks of the acceleration and angular-rate magnitudes,
the body-acceleration magnitude, the vertical and horizontal body
acceleration (the projection on the low-pass gravity estimate, Mizell 2003)
and the two jerk magnitudes, the spectral features of the body-acceleration
magnitude, vertical and horizontal body acceleration and the angular-rate
magnitude, and ENMO; no per-axis feature, mean gravity, tilt angle, SMA or
axis correlation. The gravity filter is linear and runs per axis, so it
commutes with a rotation: the body acceleration rotates with the sensor and
its norm and its projection on the mean gravity do not change. Channels
without a sensor role get their statistics as in every set.
"""

_ALL_SETS = FEATURE_SETS

_SRC_STATS = "Figo et al. (2010), Pers. Ubiquit. Comput. 14:645; Anguita et al. (2013), ESANN"
_SRC_PCTL = "Hyndman & Fan (1996), Am. Stat. 50(4):361, type 7 (numpy 'linear')"
_SRC_MCR = "Figo et al. (2010), Pers. Ubiquit. Comput. 14:645 (zero/mean crossings)"


@dataclass(frozen=True)
class Statistic:
    """One per-signal statistic (a row of :data:`STATISTICS`).

    Attributes
    ----------
    name : str
        Suffix of the feature name (``{signal}_{name}``).
    definition : str
        One-line definition (conventions of :mod:`tinyhar.features.catalog`).
    source : str
        Paper or standard.
    unit : str
        ``"signal"`` for the unit of the signal, otherwise the unit itself
        (``"Hz"``, ``"1"``).
    percentile : float or None
        ``p`` in [0, 1] of a type-7 percentile, else None.
    feature_sets : tuple of str
        Feature sets whose complete statistic blocks include it.
    tolerance : tuple of (float, float, str) or None
        ``(rtol, atol, reason)``: how closely two back-ends agree on it, when
        the class :func:`tinyhar.features.tolerances.tolerance_class` would
        give otherwise does not apply (a tolerance class named after the
        statistic).
    """

    name: str
    definition: str
    source: str
    unit: str = "signal"
    percentile: float | None = None
    feature_sets: tuple[str, ...] = _ALL_SETS
    tolerance: tuple[float, float, str] | None = None


STATISTICS: tuple[Statistic, ...] = (
    Statistic("mean", "mean over the window: sum(x)/N", _SRC_STATS),
    Statistic("std", "population standard deviation (ddof=0), two-pass: "
              "sqrt(sum((x-mean)^2)/N)", _SRC_STATS),
    Statistic("min", "smallest sample of the window", _SRC_STATS),
    Statistic("max", "largest sample of the window", _SRC_STATS),
    Statistic("median", "50th percentile, linear interpolation on the sorted window "
              "(h=0.5*(N-1))", _SRC_PCTL, percentile=0.5),
    Statistic("p25", "25th percentile, linear interpolation on the sorted window "
              "(h=0.25*(N-1))", _SRC_PCTL, percentile=0.25),
    Statistic("p75", "75th percentile, linear interpolation on the sorted window "
              "(h=0.75*(N-1))", _SRC_PCTL, percentile=0.75),
    Statistic("iqr", "interquartile range p75 - p25", _SRC_PCTL),
    Statistic("rms", "root mean square: sqrt(sum(x^2)/N)", _SRC_STATS),
    Statistic("mcr", "mean-crossing rate in Hz: count of k=1..N-1 with (x[k]>=mean) != "
              "(x[k-1]>=mean), divided by (N-1)/fs (a sine of f Hz gives about 2f)",
              _SRC_MCR, unit="Hz"),
    Statistic("skewness", "Fisher-Pearson coefficient of skewness g1 = m3 / m2^(3/2) with "
              "m_k = sum((x-mean)^k)/N (scipy.stats.skew, bias=True); 0 if m2 <= MIN_STD^2",
              "Joanes & Gill (1998), J. R. Stat. Soc. D (The Statistician) 47(1):183 (g1)",
              unit="1", feature_sets=("full",),
              tolerance=(2e-4, 1e-3, "a standardised third moment: a one-ulp difference of a "
                         "derived signal (magnitudes in double on MicroPython) moves it by about "
                         "3 ulp(mean) / std")),
)
"""The per-signal statistics, in output order (the statistic table).

Every back-end writes a signal's statistics in this order; a block of the
plan (:class:`StatBlock`) lists the ones it computes. A statistic with
``feature_sets=("full",)`` is added to the complete blocks of the ``full``
set only (:func:`time_stats`).
"""

SPECTRAL_STATS = ("dom_freq", "spec_entropy", "spec_centroid")
"""Spectral features of a signal after its band powers, in output order."""


def statistic(name: str) -> Statistic:
    """The row of :data:`STATISTICS` called ``name``.

    Parameters
    ----------
    name : str
        A statistic name, e.g. ``"p25"``.

    Returns
    -------
    Statistic

    Raises
    ------
    KeyError
        No statistic of that name.
    """
    for s in STATISTICS:
        if s.name == name:
            return s
    raise KeyError(name)


def time_stats(feature_set: str) -> tuple[str, ...]:
    """Names of the complete statistic block of a feature set, in output order.

    Parameters
    ----------
    feature_set : str
        One of ``minimal``, ``light``, ``default``, ``full``.

    Returns
    -------
    tuple of str
        The statistics of :data:`STATISTICS` that list ``feature_set``.
    """
    return tuple(s.name for s in STATISTICS if feature_set in s.feature_sets)


# --------------------------------------------------------------------------- signals


@dataclass(frozen=True)
class DerivedSignal:
    """A signal computed from the channels (a row of :data:`DERIVED_SIGNALS`).

    Attributes
    ----------
    name : str
    unit : str
    definition : str
    sensor : str
        ``"acc"`` or ``"gyro"``: the triad it is computed from.
    kind : str
        Kernel that computes it: ``magnitude`` (norm of the raw triad),
        ``body`` (an axis of total minus gravity), ``body_mag``, ``body_vert``,
        ``body_horiz`` or ``jerk`` (norm of the first difference times fs).
    length : int
        Samples relative to the window: 0 (``N``) or -1 (``N - 1``, jerk).
    """

    name: str
    unit: str
    definition: str
    sensor: str
    kind: str
    length: int = 0


DERIVED_SIGNALS: tuple[DerivedSignal, ...] = (
    DerivedSignal("acc_mag", "g", "acceleration magnitude sqrt(acc_x^2+acc_y^2+acc_z^2) per "
                  "sample", "acc", "magnitude"),
    DerivedSignal("gyro_mag", "rad/s", "angular-rate magnitude sqrt(gyro_x^2+gyro_y^2+gyro_z^2) "
                  "per sample", "gyro", "magnitude"),
    DerivedSignal("body_x", "g", "body acceleration x: acc_x - grav_x per sample", "acc", "body"),
    DerivedSignal("body_y", "g", "body acceleration y: acc_y - grav_y per sample", "acc", "body"),
    DerivedSignal("body_z", "g", "body acceleration z: acc_z - grav_z per sample", "acc", "body"),
    DerivedSignal("body_mag", "g", "body acceleration magnitude sqrt(body_x^2+body_y^2+"
                  "body_z^2) per sample", "acc", "body_mag"),
    DerivedSignal("body_vert", "g", "vertical body acceleration: body . u per sample, u = unit "
                  "mean gravity G/|G| (u = 0 if |G| = 0), positive upwards", "acc", "body_vert"),
    DerivedSignal("body_horiz", "g", "horizontal body acceleration: sqrt(max(|body|^2 - "
                  "body_vert^2, 0)) per sample", "acc", "body_horiz"),
    DerivedSignal("acc_jerk_mag", "g/s", "acceleration jerk magnitude: |acc[k+1]-acc[k]|*fs "
                  "(3-axis norm), N-1 samples", "acc", "jerk", -1),
    DerivedSignal("gyro_jerk_mag", "rad/s^2", "angular jerk magnitude: |gyro[k+1]-gyro[k]|*fs "
                  "(3-axis norm), N-1 samples", "gyro", "jerk", -1),
)
"""Signals derived from the accelerometer / gyroscope triads, in computation order."""

DERIVED = {s.name: s for s in DERIVED_SIGNALS}
""":data:`DERIVED_SIGNALS` by name."""

GRAVITY_SIGNALS = ("grav_x", "grav_y", "grav_z")
"""Names of the gravity estimate per axis (reserved: they are not channels)."""


def channel_unit(name: str) -> str:
    """Unit of a channel or signal name.

    Parameters
    ----------
    name : str
        A channel (``acc_x``, ``gyro_z``, ``body_acc_x``, any other name) or a
        signal of :data:`DERIVED_SIGNALS`.

    Returns
    -------
    str
        ``g`` / ``rad/s`` for the known channels
        (:data:`tinyhar.datasets.recording.CHANNEL_UNITS`) and derived
        signals; for another name ``g`` if it contains ``acc``, ``rad/s`` if
        it contains ``gyr`` (case-insensitive), else ``1``.
    """
    if name in DERIVED:
        return DERIVED[name].unit
    if name in CHANNEL_UNITS:
        return CHANNEL_UNITS[name]
    low = name.lower()
    return "g" if "acc" in low else "rad/s" if "gyr" in low else "1"


# --------------------------------------------------------------------------- bands


def band_label(lo: float, hi: float) -> str:
    """Name fragment of a band, e.g. ``(0.5, 1.0) -> "0p5_1hz"``.

    Parameters
    ----------
    lo, hi : float
        Band edges in Hz.

    Returns
    -------
    str
        ``{lo}_{hi}hz`` with ``.`` written ``p`` and ``-`` written ``m``.
    """
    def fmt(v: float) -> str:
        return f"{v:g}".replace(".", "p").replace("-", "m")

    return f"{fmt(lo)}_{fmt(hi)}hz"


def bin_frequencies(sampling_rate_hz: float, n_samples: int) -> np.ndarray:
    """Frequencies of the DFT bins ``k = 1 .. N // 2``.

    Parameters
    ----------
    sampling_rate_hz : float
        Hz; rounded to float32 first, as every back-end uses it.
    n_samples : int
        Window length ``N``.

    Returns
    -------
    numpy.ndarray of float32, shape (N // 2,)
        ``f_k = k fs / N`` in Hz.
    """
    fs = float(np.float32(sampling_rate_hz))
    k = n_samples // 2
    return (np.arange(1, k + 1) * (fs / n_samples)).astype(np.float32)


def band_bins(
    sampling_rate_hz: float, n_samples: int, bands_hz: Sequence[tuple[float, float]]
) -> tuple[tuple[int, int], ...]:
    """The DFT bins of each band: ``(k_start, k_stop)``, bins ``k_start <= k < k_stop``.

    Parameters
    ----------
    sampling_rate_hz : float
        Hz.
    n_samples : int
        Window length ``N`` (the DFT size).
    bands_hz : sequence of (lo, hi)
        Bands ``(lo, hi]`` in Hz.

    Returns
    -------
    tuple of (int, int)
        1-based bin ranges (bin ``k`` has frequency ``k fs / N``) of the bins
        with ``lo < f_k <= hi`` (float32 frequencies of :func:`bin_frequencies`);
        ``k_start == k_stop`` for a band without a bin. The bins of a band are
        contiguous since ``f_k`` increases with ``k``.
    """
    freqs = bin_frequencies(sampling_rate_hz, n_samples)
    out = []
    for lo, hi in bands_hz:
        sel = np.flatnonzero((freqs > lo) & (freqs <= hi))
        out.append((int(sel[0]) + 1, int(sel[-1]) + 2) if sel.size else (0, 0))
    return tuple(out)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class StatBlock:
    """Statistics of one signal: ``stats`` go to output slots ``first, first + 1, ...``.

    Attributes
    ----------
    group : str
        Catalog group (``time``, ``body``, ``orientation-independent``, ``jerk``).
    signal : str
        A channel name or a :data:`DERIVED_SIGNALS` name.
    length : int
        Samples of the signal (``N``, or ``N - 1`` for jerk).
    stats : tuple of str
        Statistics, in :data:`STATISTICS` order (possibly empty: a signal
        whose deviations only feed a spectrum or a correlation).
    first : int
        Output slot of ``stats[0]`` (-1 when ``stats`` is empty).
    """

    group: str
    signal: str
    length: int
    stats: tuple[str, ...]
    first: int


@dataclass(frozen=True)
class LengthConstants:
    """float32 constants of one signal length, as every back-end uses them.

    Attributes
    ----------
    n : int
        Samples.
    inv_n : float
        ``float32(1 / n)``.
    mcr_scale : float
        ``float32(fs32 / (n - 1))``: mean crossings -> Hz.
    percentiles : tuple of (str, float, int, float)
        ``(statistic, p, i, t)`` per percentile statistic in increasing ``p``:
        ``i = floor(p (n - 1))``, ``t = float32(p (n - 1) - i)``.
    """

    n: int
    inv_n: float
    mcr_scale: float
    percentiles: tuple[tuple[str, float, int, float], ...]


@dataclass(frozen=True)
class GravityStage:
    """The gravity low-pass filter (:mod:`tinyhar.features.filters`).

    Attributes
    ----------
    cutoff_hz : float
    order : int
    sos : tuple of tuple of float
        float32 second-order sections ``[b0, b1, b2, 1, a1, a2]``
        (:func:`tinyhar.features.filters.gravity_sos`), shape (n_sections, 6).
    """

    cutoff_hz: float
    order: int
    sos: tuple[tuple[float, ...], ...]

    def sos_array(self) -> np.ndarray:
        """The sections as a float32 array of shape (n_sections, 6)."""
        return np.asarray(self.sos, dtype=np.float32)


@dataclass(frozen=True)
class Band:
    """A spectral band ``(lo, hi]`` Hz and its DFT bins ``k_start <= k < k_stop``."""

    lo: float
    hi: float
    label: str
    k_start: int
    k_stop: int


@dataclass(frozen=True)
class SpectralStage:
    """The DFT stage: size, bins, bands and the signals it runs on.

    Attributes
    ----------
    signals : tuple of (str, int)
        Signal and output slot of its first band power; the band powers then
        :data:`SPECTRAL_STATS` follow in consecutive slots.
    n_fft : int
        DFT size (the window length ``N``; no padding).
    n_bins : int
        ``K = N // 2`` bins ``k = 1 .. K``.
    radix2 : bool
        ``N`` is a power of two (>= 4): back-ends may use a radix-2 FFT.
    freqs : tuple of float
        float32 ``f_k`` in Hz, k = 1 .. K.
    bands : tuple of Band
    power_weight, power_weight_nyquist : float
        float32 ``2 / N^2`` and the weight of the Nyquist bin (``1 / N^2``
        for even N): ``S_k = weight |X_k|^2``.
    log_k : float
        float32 ``ln K`` (spectral-entropy normaliser; 0 when K = 1).
    flat_power : float
        float32 ``MIN_STD^2``: a total power below it is a flat window.
    """

    signals: tuple[tuple[str, int], ...]
    n_fft: int
    n_bins: int
    radix2: bool
    freqs: tuple[float, ...]
    bands: tuple[Band, ...]
    power_weight: float
    power_weight_nyquist: float
    log_k: float
    flat_power: float


@dataclass(frozen=True)
class FeaturePlan:
    """What to compute for one feature set, channel layout and window length.

    Built by :func:`build_plan` (via
    :attr:`tinyhar.features.FeatureExtractor.plan_` after ``fit``). Frozen and
    serialisable (:meth:`to_dict` gives JSON-compatible values). The stages
    run in this order: channels -> ``derived`` signals (magnitudes, the
    ``gravity`` filter and body signals, jerk) -> ``stat_blocks`` ->
    ``correlations`` -> ``spectral``; every feature has its output slot
    (its index in ``names``).

    Attributes
    ----------
    feature_set : str
    channels : tuple of str
        Channel order of the windows (last axis).
    units : tuple of str
        Unit of each channel (:func:`channel_unit`).
    sampling_rate_hz : float
    fs32 : float
        The sampling rate rounded to float32 (the ``fs`` of jerk, mcr, bins).
    n_samples : int
        Window length ``N``.
    acc_index, gyro_index : tuple of 3 int or None
        Channel indices of the triads.
    other_channels : tuple of (int, str)
        Channels without a sensor role.
    names : tuple of str
        Feature names; the position is the output slot.
    statistics : tuple of str
        :data:`STATISTICS` names in output order.
    derived : tuple of str
        :data:`DERIVED_SIGNALS` the plan computes, in computation order.
    stat_blocks : tuple of StatBlock
    lengths : tuple of LengthConstants
        Constants of each signal length used (``N``, and ``N - 1`` with jerk).
    gravity : GravityStage or None
    correlations : tuple of (str, int)
        Triad (``acc``/``gyro``) and slot of its first correlation
        (pairs xy, xz, yz in consecutive slots).
    corr_floor : float
        float32 ``N MIN_STD^2``: an axis with a smaller sum of squared
        deviations is flat (correlation 0).
    flat_variance : float
        float32 ``MIN_STD^2``: a signal whose variance is not above it is
        flat (statistics that divide by the spread are 0).
    spectral : SpectralStage or None
    min_std : float
        :data:`MIN_STD`.
    """

    feature_set: str
    channels: tuple[str, ...]
    units: tuple[str, ...]
    sampling_rate_hz: float
    fs32: float
    n_samples: int
    acc_index: tuple[int, int, int] | None
    gyro_index: tuple[int, int, int] | None
    other_channels: tuple[tuple[int, str], ...]
    names: tuple[str, ...]
    statistics: tuple[str, ...]
    derived: tuple[str, ...]
    stat_blocks: tuple[StatBlock, ...]
    lengths: tuple[LengthConstants, ...]
    gravity: GravityStage | None
    correlations: tuple[tuple[str, int], ...]
    corr_floor: float
    flat_variance: float
    spectral: SpectralStage | None
    min_std: float = MIN_STD
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._index.update({n: i for i, n in enumerate(self.names)})

    def slot(self, name: str) -> int:
        """Output slot of a feature.

        Parameters
        ----------
        name : str
            Feature name.

        Returns
        -------
        int
            Its index in :attr:`names`, or -1 if the plan does not compute it.
        """
        return self._index.get(name, -1)

    def length(self, n: int) -> LengthConstants:
        """Constants of signals of ``n`` samples.

        Parameters
        ----------
        n : int
            Signal length (``N`` or ``N - 1``).

        Returns
        -------
        LengthConstants

        Raises
        ------
        KeyError
            The plan has no signal of that length.
        """
        for c in self.lengths:
            if c.n == n:
                return c
        raise KeyError(n)

    def block(self, signal: str) -> StatBlock | None:
        """The statistic block of a signal.

        Parameters
        ----------
        signal : str
            Channel or derived-signal name.

        Returns
        -------
        StatBlock or None
            None when the signal gets no statistics.
        """
        for b in self.stat_blocks:
            if b.signal == signal:
                return b
        return None

    @property
    def sensors(self) -> tuple[tuple[str, tuple[str, str, str], tuple[int, int, int]], ...]:
        """``(sensor, axis names, channel indices)`` of each triad present (acc first)."""
        out = []
        if self.acc_index is not None:
            out.append(("acc", ACC_CHANNELS, self.acc_index))
        if self.gyro_index is not None:
            out.append(("gyro", GYRO_CHANNELS, self.gyro_index))
        return tuple(out)  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-compatible values.

        Returns
        -------
        dict
            Every attribute, nested stages as dicts, tuples as tuples
            (``json.dumps`` writes them as lists), floats as the float32
            values the back-ends use.
        """
        out = asdict(self)
        del out["_index"]
        return out


def build_plan(
    layout: FeatureLayout,
    n_samples: int,
    sos: np.ndarray | None,
    gravity_cutoff_hz: float = 0.3,
    gravity_order: int = 3,
) -> FeaturePlan:
    """Compile a resolved feature layout and a window length into a plan.

    Parameters
    ----------
    layout : FeatureLayout
        From :func:`tinyhar.features.catalog.feature_layout` (channel roles,
        statistic blocks, spectral signals, bands, feature names).
    n_samples : int
        Samples per window ``N`` (checked by
        :func:`tinyhar.features.catalog.check_window_length` before).
    sos : numpy.ndarray of float32, shape (n_sections, 6), or None
        Gravity filter sections (:func:`tinyhar.features.filters.gravity_sos`);
        required when ``layout.uses_gravity``.
    gravity_cutoff_hz, gravity_order : float, int
        The filter's parameters (recorded with the coefficients).

    Returns
    -------
    FeaturePlan

    Raises
    ------
    ValueError
        Internal inconsistency (a block whose features are not in
        consecutive slots, a gravity layout without coefficients): a bug,
        not a user error.
    """
    n = int(n_samples)
    names = tuple(layout.names)
    index = {nm: i for i, nm in enumerate(names)}
    fs32 = float(np.float32(layout.sampling_rate_hz))
    stat_order = tuple(s.name for s in STATISTICS)

    def consecutive(keys: Sequence[str]) -> int:
        first = index[keys[0]]
        if [index.get(k) for k in keys] != list(range(first, first + len(keys))):
            raise ValueError(f"features {list(keys)} are not in consecutive output slots")
        return first

    blocks = []
    for group, sig, stats in layout.stat_blocks:
        if [s for s in stat_order if s in stats] != list(stats):
            raise ValueError(f"statistics {stats} of {sig!r} are not in STATISTICS order")
        length = n + (DERIVED[sig].length if sig in DERIVED else 0)
        first = consecutive([f"{sig}_{s}" for s in stats]) if stats else -1
        blocks.append(StatBlock(group, sig, length, tuple(stats), first))

    used = {b.signal for b in blocks} | set(layout.spectral_signals)
    if layout.uses_gravity:
        used |= {"body_x", "body_y", "body_z", "body_mag"}  # body_sma, body_mag's deps
    derived = tuple(s.name for s in DERIVED_SIGNALS if s.name in used)

    lengths = sorted({n} | {b.length for b in blocks}, reverse=True)
    pct = sorted((s.percentile, s.name) for s in STATISTICS if s.percentile is not None)
    length_consts = []
    for m in lengths:
        rows = []
        for p, name in pct:
            h = p * (m - 1)
            i = int(math.floor(h))
            rows.append((name, p, i, float(np.float32(h - i))))
        length_consts.append(LengthConstants(
            m, float(np.float32(1.0 / m)),
            float(np.float32(fs32 / (m - 1))) if m > 1 else 0.0, tuple(rows)))

    gravity = None
    if layout.uses_gravity:
        if sos is None:
            raise ValueError("the layout uses the gravity filter but no coefficients were given")
        arr = np.asarray(sos, dtype=np.float32)
        gravity = GravityStage(float(gravity_cutoff_hz), int(gravity_order),
                               tuple(tuple(float(v) for v in row) for row in arr))

    corr = []
    for sensor, present in (("acc", layout.acc_index), ("gyro", layout.gyro_index)):
        if present is not None and f"corr_{sensor}_xy" in index:
            corr.append((sensor, consecutive([f"corr_{sensor}_{t}" for t in ("xy", "xz", "yz")])))

    spectral = None
    if layout.spectral_signals:
        k = n // 2
        bins = band_bins(layout.sampling_rate_hz, n, layout.bands_hz)
        bands = tuple(Band(lo, hi, band_label(lo, hi), k0, k1)
                      for (lo, hi), (k0, k1) in zip(layout.bands_hz, bins, strict=True))
        sigs = []
        for sig in layout.spectral_signals:
            keys = [f"{sig}_power_{b.label}" for b in bands] + [
                f"{sig}_{s}" for s in SPECTRAL_STATS]
            sigs.append((sig, consecutive(keys)))
        w = float(np.float32(2.0 / (n * n)))
        spectral = SpectralStage(
            signals=tuple(sigs), n_fft=n, n_bins=k, radix2=n >= 4 and (n & (n - 1)) == 0,
            freqs=tuple(float(f) for f in bin_frequencies(layout.sampling_rate_hz, n)),
            bands=bands, power_weight=w,
            power_weight_nyquist=float(np.float32(1.0 / (n * n))) if n % 2 == 0 else w,
            log_k=float(np.float32(np.log(k))) if k > 1 else 0.0,
            flat_power=float(np.float32(MIN_STD * MIN_STD)),
        )

    return FeaturePlan(
        feature_set=layout.feature_set,
        channels=tuple(layout.channels),
        units=tuple(channel_unit(c) for c in layout.channels),
        sampling_rate_hz=float(layout.sampling_rate_hz),
        fs32=fs32,
        n_samples=n,
        acc_index=layout.acc_index,
        gyro_index=layout.gyro_index,
        other_channels=tuple(layout.other_channels),
        names=names,
        statistics=stat_order,
        derived=derived,
        stat_blocks=tuple(blocks),
        lengths=tuple(length_consts),
        gravity=gravity,
        correlations=tuple(corr),
        corr_floor=float(np.float32(n * MIN_STD * MIN_STD)),
        flat_variance=float(np.float32(MIN_STD * MIN_STD)),
        spectral=spectral,
    )

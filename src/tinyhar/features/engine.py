"""The feature computation itself: numpy and SciPy only, no scikit-learn.

Every feature is a function of one window only (no statistic of the data set,
nothing fitted), computed in float32 over all windows at once: the windows
are processed in chunks, each chunk with numpy/scipy operations along the
sample axis (no Python loop over windows). The definitions are those of
:mod:`tinyhar.features.catalog`; what is computed, and in which order, is a
compiled :class:`~tinyhar.features.plan.FeaturePlan`.

:class:`~tinyhar.features.extractor.FeatureExtractor` (the scikit-learn
transformer) runs this code; :class:`PlanFeatures` is the same computation
for a fitted extractor without scikit-learn, which a worker process
featurising sessions receives (:mod:`tinyhar.features.table`): it need not
import scikit-learn (about 0.6 s of CPU per process). :meth:`PlanFeatures.build`
is the one way from the extractor's settings to its plan (the extractor's
``fit`` and ``compiled`` use it), so a process can build the features
without scikit-learn too.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import fft as _fft

from tinyhar.errors import DataFormatError
from tinyhar.features.catalog import (
    DEFAULT_CHANNELS,
    FeatureLayout,
    check_window_length,
    feature_layout,
)
from tinyhar.features.filters import gravity_sos, lowpass_from_first_sample
from tinyhar.features.plan import (
    SPECTRAL_STATS,
    FeaturePlan,
    LengthConstants,
    SpectralStage,
    build_plan,
)
from tinyhar.features.validity import check_valid
from tinyhar.validation import check_windows

__all__ = ["PlanFeatures", "extract_features", "resolve_features"]

_F32 = np.float32
_DEFAULT_CHUNK = 512
_SORTED_STATS = ("min", "max", "median", "p25", "p75", "iqr")

def extract_features(
    X: np.ndarray,
    channels: Sequence[str] = DEFAULT_CHANNELS,
    sampling_rate_hz: float = 50.0,
    feature_set: str = "default",
    gravity_cutoff_hz: float = 0.3,
    gravity_order: int = 3,
    bands_hz: Sequence[Sequence[float]] | None = None,
    chunk_size: int = _DEFAULT_CHUNK,
    timings: dict[str, float] | None = None,
) -> np.ndarray:
    """Compute a feature set on a stack of windows.

    Parameters
    ----------
    X : array-like, shape (n_windows, n_samples, n_channels)
        Windows; channel ``j`` is ``channels[j]``; acceleration in g, angular
        rate in rad/s. Converted to float32.
    channels : sequence of str, default ``("acc_x", ..., "gyro_z")``
        Channel names (roles: ``acc_*`` accelerometer, ``gyro_*`` gyroscope,
        anything else: per-channel time statistics only).
    sampling_rate_hz : float, default 50.0
        Sampling rate in Hz.
    feature_set : {"minimal", "light", "default", "full", "invariant"}, default "default"
        See :data:`tinyhar.features.catalog.FEATURE_SETS`.
    gravity_cutoff_hz : float, default 0.3
        Cut-off of the low-pass Butterworth gravity filter in Hz.
    gravity_order : int, default 3
        Order of the gravity filter.
    bands_hz : sequence of (lo, hi), optional
        Spectral bands in Hz; default
        :data:`tinyhar.features.catalog.DEFAULT_BANDS_HZ`.
    chunk_size : int, default 512
        Windows processed together (memory/speed trade-off; no effect on the
        values).
    timings : dict, optional
        If given, seconds spent per computation stage are added to it (keys:
        ``prepare``, ``gravity``, ``orientation-independent``, ``jerk``,
        ``statistics``, ``correlation``, ``spectral``, ``enmo``, ``assemble``).

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_features)
        Columns in the order of
        :func:`tinyhar.features.catalog.feature_catalog`.

    Raises
    ------
    ConfigError
        Invalid options (unknown feature set, incomplete sensor triad, band
        above Nyquist, gravity cut-off above Nyquist, ...).
    DataFormatError
        ``X`` is not numeric, not 3-D, has a channel count different from
        ``channels``, holds NaN/inf or values beyond
        ``tinyhar.features.validity.MAX_ABS_INPUT``, or its windows are too short.
    """
    layout, sos = resolve_features(sampling_rate_hz, channels, feature_set, gravity_cutoff_hz,
                                   gravity_order, bands_hz)
    X = _validate_windows(X, layout)
    plan = build_plan(layout, X.shape[1], sos, gravity_cutoff_hz, gravity_order)
    return _extract(X, plan, chunk_size, timings)


def resolve_features(
    sampling_rate_hz: float = 50.0,
    channels: Sequence[str] = DEFAULT_CHANNELS,
    feature_set: str = "default",
    gravity_cutoff_hz: float = 0.3,
    gravity_order: int = 3,
    bands_hz: Sequence[Sequence[float]] | None = None,
) -> tuple[FeatureLayout, np.ndarray | None]:
    """The feature layout and gravity filter of a set of feature settings, checked.

    Parameters
    ----------
    sampling_rate_hz, channels, feature_set, gravity_cutoff_hz, gravity_order, bands_hz
        As :func:`extract_features` (the parameters of
        :class:`~tinyhar.features.extractor.FeatureExtractor`).

    Returns
    -------
    layout : FeatureLayout
        Channel roles and feature list (:func:`tinyhar.features.catalog.feature_layout`).
    sos : numpy.ndarray of float32, shape (n_sections, 6), or None
        The gravity filter (:func:`tinyhar.features.filters.gravity_sos`) when
        the features use gravity. With an accelerometer it is computed (so
        checked) even when they do not, so that a cut-off above the Nyquist
        frequency is refused whatever the feature set.

    Raises
    ------
    ConfigError
        Unknown feature set, incomplete sensor triad, band or gravity cut-off
        not below the Nyquist frequency, bad filter order.
    """
    layout = feature_layout(channels, feature_set, sampling_rate_hz, bands_hz)
    sos = None
    if layout.acc_index is not None:  # checked even where unused (uses_gravity needs it)
        sos = gravity_sos(sampling_rate_hz, gravity_cutoff_hz, gravity_order)
    return layout, sos if layout.uses_gravity else None


_SETTING_DEFAULTS = {name: p.default
                     for name, p in inspect.signature(resolve_features).parameters.items()}
"""The feature settings' defaults (those of :func:`resolve_features`)."""


@dataclass(frozen=True)
class PlanFeatures:
    """The features of a fitted extractor, computed without scikit-learn.

    What :meth:`tinyhar.features.extractor.FeatureExtractor.transform` computes
    for an array of windows, bit for bit (the same code on the same plan):
    made by :meth:`~tinyhar.features.extractor.FeatureExtractor.compiled`, for
    processes that only featurise (:meth:`tinyhar.models.pipeline.HarPipeline.features_only`).

    Attributes
    ----------
    layout : FeatureLayout
        Channel roles and feature list (:func:`tinyhar.features.catalog.feature_layout`).
    plan : FeaturePlan
        The compiled plan for windows of ``n_samples`` samples.
    n_samples : int
        Window length in samples that :meth:`transform` requires.
    """

    layout: FeatureLayout
    plan: FeaturePlan
    n_samples: int

    @classmethod
    def build(cls, n_samples: int, **settings: Any) -> PlanFeatures:
        """The features of these settings for windows of ``n_samples`` samples.

        The one way from feature settings to a plan: a fitted
        :class:`~tinyhar.features.extractor.FeatureExtractor` with these
        parameters computes exactly this (its ``plan_`` and ``compiled()`` are
        built here), and a process that only featurises can build it without
        importing scikit-learn (e.g. to send feature tasks to workers before
        the model is built: :func:`tinyhar.training.trees.feature_pipeline`).

        Parameters
        ----------
        n_samples : int
            Window length in samples.
        **settings
            The extractor's parameters, the keywords of :func:`resolve_features`
            (``sampling_rate_hz``, ``channels``, ``feature_set``,
            ``gravity_cutoff_hz``, ``gravity_order``, ``bands_hz``), with its defaults.

        Returns
        -------
        PlanFeatures

        Raises
        ------
        ConfigError
            Invalid settings (:func:`resolve_features`).
        DataFormatError
            Windows too short for the features
            (:func:`~tinyhar.features.catalog.check_window_length`).
        """
        settings = {**_SETTING_DEFAULTS, **settings}
        layout, sos = resolve_features(**settings)
        n = int(n_samples)
        check_window_length(layout, n)
        return cls(layout, build_plan(layout, n, sos, settings["gravity_cutoff_hz"],
                                      settings["gravity_order"]), n)

    def transform(self, X: object) -> np.ndarray:
        """Features of windows ``(n_windows, n_samples, n_channels)`` (g, rad/s).

        Returns
        -------
        numpy.ndarray of float32, shape (n_windows, n_features)

        Raises
        ------
        DataFormatError
            Windows of another shape or length, or holding NaN, an infinity or
            a value beyond :data:`tinyhar.features.validity.MAX_ABS_INPUT`.
        """
        X = _validate_windows(X, self.layout, self.n_samples)
        return _extract(X, self.plan, _DEFAULT_CHUNK, None)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Names of the output features, shape (n_features,) (object array of str)."""
        return np.asarray(self.layout.names, dtype=object)


# --------------------------------------------------------------------------- validation


def _validate_windows(
    X: object, layout: FeatureLayout, n_samples: int | None = None
) -> np.ndarray:
    arr = check_windows(X, source="X", channels=layout.channels, n_samples=n_samples,
                        trained_on="the extractor was fitted on")  # tinyhar.validation
    check_window_length(layout, arr.shape[1])
    check_valid(arr, layout.channels, "X")  # NaN, inf, |x| > MAX_ABS_INPUT (validity.py)
    return arr


# --------------------------------------------------------------------------- computation


def _extract(
    X: np.ndarray,
    plan: FeaturePlan,
    chunk_size: int,
    timings: dict[str, float] | None,
) -> np.ndarray:
    names = plan.names
    n = X.shape[0]
    out = np.empty((n, len(names)), dtype=_F32)
    if n == 0:
        return out
    chunk = max(1, int(chunk_size))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        cols = _compute_chunk(X[start:stop], plan, timings)
        t0 = time.perf_counter()
        block = out[start:stop]
        for j, name in enumerate(names):
            block[:, j] = cols[name]
        if timings is not None:
            timings["assemble"] = timings.get("assemble", 0.0) + time.perf_counter() - t0
    return out


class _Timer:
    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.t = time.perf_counter()

    def lap(self, key: str) -> None:
        if self.timings is not None:
            now = time.perf_counter()
            self.timings[key] = self.timings.get(key, 0.0) + now - self.t
            self.t = now


def _compute_chunk(
    X: np.ndarray,
    plan: FeaturePlan,
    timings: dict[str, float] | None,
) -> dict[str, np.ndarray]:
    """All features of one chunk, as ``name -> array of shape (n,)``, by executing ``plan``."""
    clock = _Timer(timings)
    n, N, _ = X.shape
    if N != plan.n_samples:
        raise DataFormatError(
            "X", f"windows have {N} samples but the feature plan is for {plan.n_samples}")
    fs = _F32(plan.fs32)
    full_len = plan.length(N)
    inv_n = _F32(full_len.inv_n)
    cols: dict[str, np.ndarray] = {}

    # Signals of length N that get time statistics, stacked (k, n, N).
    full_blocks = [b for b in plan.stat_blocks if b.length == N]
    slot = {b.signal: i for i, b in enumerate(full_blocks)}
    S = np.empty((len(full_blocks), n, N), dtype=_F32)
    for i, c in enumerate(plan.channels):
        if c in slot:
            S[slot[c]] = X[:, :, i]
    for sensor, axes, _ in plan.sensors:
        if f"{sensor}_mag" in slot:
            _norm3(S[slot[axes[0]]], S[slot[axes[1]]], S[slot[axes[2]]], S[slot[f"{sensor}_mag"]])
    clock.lap("prepare")

    if plan.gravity is not None:
        acc = S[slot["acc_x"]:slot["acc_x"] + 3]  # acc_x, acc_y, acc_z are consecutive
        grav = lowpass_from_first_sample(acc, plan.gravity.sos_array(), axis=-1)
        G = grav.sum(axis=-1, dtype=_F32) / _F32(N)  # mean gravity per axis, (3, n)
        body = np.subtract(acc, grav, out=grav)  # (3, n, N); gravity itself is not kept
        for a, ax in enumerate("xyz"):
            cols[f"grav_{ax}_mean"] = G[a]
        gnorm = np.sqrt(np.einsum("ij,ij->j", G, G))
        for a, ax in enumerate("xyz"):
            o = [b for b in range(3) if b != a]
            cols[f"tilt_{ax}"] = np.arctan2(np.hypot(G[o[0]], G[o[1]]), G[a])
        for a, ax in enumerate("xyz"):
            if f"body_{ax}" in slot:
                S[slot[f"body_{ax}"]] = body[a]
        bm = S[slot["body_mag"]]
        _norm3(body[0], body[1], body[2], bm)
        sma = np.abs(body).sum(axis=(0, 2), dtype=_F32)
        cols["body_sma"] = sma * inv_n
        clock.lap("gravity")

        with np.errstate(invalid="ignore", divide="ignore"):
            u = np.where(gnorm > 0, G / gnorm, _F32(0)).astype(_F32)
        vert = S[slot["body_vert"]]
        np.multiply(body[0], u[0][:, None], out=vert)
        vert += body[1] * u[1][:, None]
        vert += body[2] * u[2][:, None]
        hz = S[slot["body_horiz"]]
        np.multiply(bm, bm, out=hz)
        hz -= vert * vert
        np.maximum(hz, 0, out=hz)
        np.sqrt(hz, out=hz)
        clock.lap("orientation-independent")

    if plan.slot("gyro_sma") >= 0:
        g3 = S[slot["gyro_x"]:slot["gyro_x"] + 3]
        cols["gyro_sma"] = np.abs(g3).sum(axis=(0, 2), dtype=_F32) * inv_n
    if plan.slot("enmo_mean") >= 0:
        e = S[slot["acc_mag"]] - _F32(1)
        np.maximum(e, 0, out=e)
        cols["enmo_mean"] = e.sum(axis=-1, dtype=_F32) * inv_n
        clock.lap("enmo")

    # Jerk signals (length N - 1).
    jerk_blocks = [b for b in plan.stat_blocks if b.length != N]
    J = None
    if jerk_blocks:
        J = np.empty((len(jerk_blocks), n, N - 1), dtype=_F32)
        for i, b in enumerate(jerk_blocks):
            sensor = b.signal.split("_")[0]
            base = slot[f"{sensor}_x"]
            d = np.diff(S[base:base + 3], axis=-1)
            d *= fs
            _norm3(d[0], d[1], d[2], J[i])
        clock.lap("jerk")

    # Time statistics of all full-length signals at once.
    stats_all = tuple(dict.fromkeys(s for b in full_blocks for s in b.stats))
    res, dev, sumsq = _time_stats(S, stats_all, full_len, plan.flat_variance)
    for i, b in enumerate(full_blocks):
        for st in b.stats:
            cols[f"{b.signal}_{st}"] = res[st][i]
    if J is not None:
        for stats in dict.fromkeys(b.stats for b in jerk_blocks):
            idx = [i for i, b in enumerate(jerk_blocks) if b.stats == stats]
            r, _, _ = _time_stats(J[idx], stats, plan.length(N - 1), plan.flat_variance)
            for k, i in enumerate(idx):
                for st in stats:
                    cols[f"{jerk_blocks[i].signal}_{st}"] = r[st][k]
    clock.lap("statistics")

    floor = _F32(plan.corr_floor)  # sum of squared deviations of a std of MIN_STD
    axes_of = {sensor: axes for sensor, axes, _ in plan.sensors}
    for sensor, _first in plan.correlations:
        base = slot[axes_of[sensor][0]]
        for tag, a, b in (("xy", 0, 1), ("xz", 0, 2), ("yz", 1, 2)):
            num = np.einsum("ij,ij->i", dev[base + a], dev[base + b])
            sa, sb = sumsq[base + a], sumsq[base + b]
            ok = (sa > floor) & (sb > floor)
            with np.errstate(invalid="ignore", divide="ignore"):
                r = np.where(ok, num / (np.sqrt(sa) * np.sqrt(sb)), _F32(0))
            cols[f"corr_{sensor}_{tag}"] = np.clip(r, -1, 1).astype(_F32)
    clock.lap("correlation")

    spectral = plan.spectral
    if spectral is not None:
        sigs = [sig for sig, _ in spectral.signals]
        spec = _spectral(dev[[slot[s] for s in sigs]], spectral)
        for k, sig in enumerate(sigs):
            for band, p in zip(spectral.bands, spec["bands"], strict=True):
                cols[f"{sig}_power_{band.label}"] = p[k]
            for key in SPECTRAL_STATS:
                cols[f"{sig}_{key}"] = spec[key][k]
        clock.lap("spectral")
    return cols


def _norm3(a: np.ndarray, b: np.ndarray, c: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = sqrt(a^2 + b^2 + c^2)`` elementwise, with one temporary."""
    np.multiply(a, a, out=out)
    tmp = b * b
    out += tmp
    np.multiply(c, c, out=tmp)
    out += tmp
    return np.sqrt(out, out=out)


def _time_stats(
    S: np.ndarray, stats: Sequence[str], consts: LengthConstants, flat_variance: float
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Time statistics along the last axis of ``S`` (k, n, N) (the numpy statistic kernel).

    ``consts`` holds the plan's float32 constants of length ``N``,
    ``flat_variance`` its ``MIN_STD^2`` (float32). Returns
    ``(stats -> (k, n) arrays, deviations S - mean (k, n, N), sum of squared
    deviations (k, n))``.
    """
    N = S.shape[-1]
    inv_n = _F32(consts.inv_n)
    res: dict[str, np.ndarray] = {}
    mean = S.sum(axis=-1, dtype=_F32) / _F32(N)
    res["mean"] = mean
    dev = S - mean[..., None]
    sumsq = np.einsum("...i,...i->...", dev, dev)
    if "std" in stats:
        res["std"] = np.sqrt(sumsq * inv_n)
    if "rms" in stats:
        res["rms"] = np.sqrt(np.einsum("...i,...i->...", S, S) * inv_n)
    if "mcr" in stats:
        above = dev >= 0
        crossings = np.not_equal(above[..., 1:], above[..., :-1]).sum(axis=-1, dtype=np.int32)
        res["mcr"] = crossings.astype(_F32) * _F32(consts.mcr_scale)
    if any(s in stats for s in _SORTED_STATS):
        srt = np.sort(S, axis=-1)
        res["min"] = srt[..., 0]
        res["max"] = srt[..., -1]
        for key, _p, i, t in consts.percentiles:
            res[key] = _percentile_sorted(srt, i, _F32(t))
        res["iqr"] = res["p75"] - res["p25"]
    elif "max" in stats:
        res["max"] = S.max(axis=-1)
    if "skewness" in stats:
        # Fisher-Pearson g1 = m3 / m2^(3/2) (Joanes & Gill 1998); 0 for a flat signal
        m2 = sumsq * inv_n
        m3 = np.einsum("...i,...i->...", dev * dev, dev) * inv_n
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            g1 = m3 / (m2 * np.sqrt(m2))
        res["skewness"] = np.where(m2 > _F32(flat_variance), g1, _F32(0)).astype(_F32)
    return res, dev, sumsq


def _percentile_sorted(srt: np.ndarray, i: int, t: np.float32) -> np.ndarray:
    """Type-7 percentile of sorted rows from the plan's ``i = floor(h)``, ``t = h - i``.

    numpy 'linear' (Hyndman & Fan 1996 type 7): ``s[i] + t (s[i+1] - s[i])``.
    """
    N = srt.shape[-1]
    lo = srt[..., i]
    if i + 1 >= N or t == 0:
        return lo.copy()
    hi = srt[..., i + 1]
    return lo + t * (hi - lo)


def _spectral(dev: np.ndarray, stage: SpectralStage) -> dict[str, object]:
    """Spectral features of mean-removed signals ``dev`` (k, n, N); see the catalog."""
    K = stage.n_bins
    Z = _fft.rfft(dev, axis=-1)[..., 1:K + 1]
    P = np.square(Z.real)
    P += np.square(Z.imag)
    w = np.full(K, stage.power_weight, dtype=_F32)
    w[-1] = stage.power_weight_nyquist
    P *= w  # one-sided power S_k, (k, n, K)
    freqs = np.asarray(stage.freqs, dtype=_F32)
    # One matrix product gives every band power, the centroid numerator and the total.
    M = np.zeros((K, len(stage.bands) + 2), dtype=_F32)
    for b, band in enumerate(stage.bands):
        M[band.k_start - 1:band.k_stop - 1, b] = 1
    M[:, -2] = freqs
    M[:, -1] = 1
    R = P @ M
    total = R[..., -1]
    nz = total >= _F32(stage.flat_power)
    safe_total = np.where(nz, total, _F32(1))
    band_p = [R[..., b] for b in range(len(stage.bands))]
    dom = np.where(nz, freqs[np.argmax(P, axis=-1)], _F32(0)).astype(_F32)
    centroid = np.where(nz, R[..., -2] / safe_total, _F32(0)).astype(_F32)
    P /= safe_total[..., None]  # p_k
    logp = np.maximum(P, _F32(1e-30))
    np.log(logp, out=logp)
    plogp = np.einsum("...i,...i->...", P, logp)
    entropy = np.where(nz, -plogp / _F32(stage.log_k), _F32(0)).astype(_F32)
    return {"bands": band_p, "dom_freq": dom, "spec_entropy": entropy,
            "spec_centroid": centroid}

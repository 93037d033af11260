"""Vectorised computation of the hand-crafted features (scikit-learn transformer).

Every feature is a function of one window only (no statistic of the data set,
nothing fitted), computed in float32 over all windows at once: the windows
are processed in chunks, each chunk with numpy/scipy operations along the
sample axis (no Python loop over windows). The definitions are those of
:mod:`tinyhar.features.catalog`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from scipy import fft as _fft
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tinyhar.errors import ConfigError, DataFormatError
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
from tinyhar.modelfile import StateReader
from tinyhar.validation import check_windows

__all__ = ["FeatureExtractor", "extract_features"]

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
    layout = feature_layout(channels, feature_set, sampling_rate_hz, bands_hz)
    sos = gravity_sos(sampling_rate_hz, gravity_cutoff_hz, gravity_order) \
        if layout.uses_gravity else None
    X = _validate_windows(X, layout)
    plan = build_plan(layout, X.shape[1], sos, gravity_cutoff_hz, gravity_order)
    return _extract(X, plan, chunk_size, timings)


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """Hand-crafted HAR features of fixed-length windows, as a scikit-learn transformer.

    Stateless: ``fit`` only validates and records the input layout; every
    feature is computed from its window alone, so the same numbers can be
    reproduced on a microcontroller (float32, libm, fixed buffers). See
    :mod:`tinyhar.features.catalog` for the definitions and
    :func:`tinyhar.features.feature_catalog` for the list.

    Parameters
    ----------
    sampling_rate_hz : float, default 50.0
        Sampling rate of the windows in Hz.
    channels : sequence of str, default ``DEFAULT_CHANNELS``
        ``("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z")``.
        Names of the channels along the last axis of ``X``. ``acc_x, acc_y,
        acc_z`` (g) enable the accelerometer features, ``gyro_x, gyro_y,
        gyro_z`` (rad/s) the gyroscope features; other names (e.g.
        ``body_acc_x``) get per-channel time statistics only.
    feature_set : {"minimal", "light", "default", "full", "invariant"}, default "default"
        ``minimal``: time-domain statistics, correlations and ENMO only (no
        filter, no DFT); ``light``: ``minimal`` without the order statistics
        of the accelerometer axes, plus the spectrum of the acceleration
        magnitude (no filter, one DFT); ``default``: adds gravity/orientation, body,
        vertical/horizontal, jerk and spectral features; ``full``: more of
        the same; ``invariant``: only features a rotation of the sensor
        leaves unchanged (magnitudes, vertical/horizontal body acceleration;
        :data:`tinyhar.features.plan.FEATURE_SETS`).
    gravity_cutoff_hz : float, default 0.3
        Cut-off (Hz) of the low-pass Butterworth filter estimating gravity
        (Anguita et al. 2013).
    gravity_order : int, default 3
        Order of that filter (Anguita et al. 2013 used 3).
    bands_hz : sequence of (lo, hi), optional
        Spectral bands ``(lo, hi]`` in Hz; default ``((0, 1), (1, 2), (2, 3),
        (3, 5), (5, 10))``.

    Attributes
    ----------
    n_features_in_ : int
        Number of channels seen in ``fit`` (the last axis of ``X``).
    n_channels_in_ : int
        Same as ``n_features_in_``.
    n_samples_in_ : int
        Window length (samples) seen in ``fit``; ``transform`` requires the same.
    n_features_out_ : int
        Number of output features.
    layout_ : FeatureLayout
        Resolved channel roles and feature list.
    plan_ : FeaturePlan
        The compiled feature plan for windows of ``n_samples_in_`` samples
        (:mod:`tinyhar.features.plan`): what ``transform`` executes and what
        the C and MicroPython exports serialise.

    Raises
    ------
    ConfigError
        From ``fit``/``transform``/``get_feature_names_out`` for invalid
        parameters (the message names the parameter and the problem).
    DataFormatError
        From ``fit``/``transform`` for windows of the wrong shape, channel
        count or length, or with NaN/inf values or values beyond
        ``tinyhar.features.validity.MAX_ABS_INPUT`` (the message names the
        window, sample, channel and value).

    Examples
    --------
    >>> import numpy as np
    >>> from tinyhar.features import FeatureExtractor
    >>> X = np.zeros((4, 128, 3), np.float32); X[..., 2] = 1.0
    >>> fx = FeatureExtractor(channels=("acc_x", "acc_y", "acc_z"))
    >>> fx.fit_transform(X).shape
    (4, 133)
    """

    def __init__(
        self,
        sampling_rate_hz: float = 50.0,
        channels: Sequence[str] = DEFAULT_CHANNELS,
        feature_set: str = "default",
        gravity_cutoff_hz: float = 0.3,
        gravity_order: int = 3,
        bands_hz: Sequence[Sequence[float]] | None = None,
    ) -> None:
        self.sampling_rate_hz = sampling_rate_hz
        self.channels = channels
        self.feature_set = feature_set
        self.gravity_cutoff_hz = gravity_cutoff_hz
        self.gravity_order = gravity_order
        self.bands_hz = bands_hz

    # ------------------------------------------------------------------ helpers
    def _resolve(self) -> tuple[FeatureLayout, np.ndarray | None]:
        layout = feature_layout(
            self.channels, self.feature_set, self.sampling_rate_hz, self.bands_hz
        )
        sos = None
        if layout.uses_gravity:
            sos = gravity_sos(self.sampling_rate_hz, self.gravity_cutoff_hz, self.gravity_order)
        elif layout.acc_index is not None:
            gravity_sos(self.sampling_rate_hz, self.gravity_cutoff_hz, self.gravity_order)
        return layout, sos

    def _plan(self, layout: FeatureLayout, sos: np.ndarray | None, n_samples: int) -> FeaturePlan:
        return build_plan(layout, n_samples, sos, self.gravity_cutoff_hz, self.gravity_order)

    def _input(
        self, X: object, layout: FeatureLayout, n_samples: int | None = None
    ) -> np.ndarray:
        if hasattr(X, "channels") and hasattr(X, "X") and hasattr(X, "sampling_rate_hz"):
            rate = float(X.sampling_rate_hz)  # type: ignore[union-attr]
            if abs(rate - layout.sampling_rate_hz) > 1e-9 * layout.sampling_rate_hz:
                raise ConfigError(
                    f"the windows are sampled at {rate:g} Hz but the extractor has "
                    f"sampling_rate_hz={layout.sampling_rate_hz:g}"
                )
            have = list(X.channels)  # type: ignore[union-attr]
            missing = [c for c in layout.channels if c not in have]
            if missing:
                raise DataFormatError(
                    getattr(X, "name", "windows"),
                    f"channel(s) {missing} required by the extractor are missing "
                    f"(the windows have {have})",
                )
            X = np.asarray(X.X)[:, :, [have.index(c) for c in layout.channels]]  # type: ignore
        return _validate_windows(X, layout, n_samples)

    # ------------------------------------------------------------------ API
    def fit(self, X: object, y: object = None) -> FeatureExtractor:
        """Validate the parameters and the window layout; nothing is learned.

        Parameters
        ----------
        X : array-like, shape (n_windows, n_samples, n_channels), or WindowSet
            Windows (float32; g and rad/s). A :class:`tinyhar.windows.WindowSet`
            is accepted: its channels are selected by name.
        y : ignored

        Returns
        -------
        FeatureExtractor
            ``self``.

        Raises
        ------
        ConfigError, DataFormatError
            See the class docstring.
        """
        layout, sos = self._resolve()
        Xv = self._input(X, layout)
        if Xv.shape[0] == 0:
            raise DataFormatError("X", "no windows to fit on (shape "
                                  f"{tuple(Xv.shape)})")
        self.layout_ = layout
        self.plan_ = self._plan(layout, sos, int(Xv.shape[1]))
        self.n_channels_in_ = int(Xv.shape[2])
        self.n_features_in_ = self.n_channels_in_
        self.n_samples_in_ = int(Xv.shape[1])
        self.n_features_out_ = len(layout.features)
        return self

    def transform(self, X: object) -> np.ndarray:
        """Compute the features of each window.

        Parameters
        ----------
        X : array-like, shape (n_windows, n_samples, n_channels), or WindowSet
            Windows (g and rad/s), channels in the order of ``channels``;
            ``n_samples`` must match ``n_samples_in_`` seen in ``fit``.

        Returns
        -------
        numpy.ndarray of float32, shape (n_windows, n_features)
            Features, in the order of :meth:`get_feature_names_out`.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit`` (scikit-learn's convention; ``fit`` records the
            window layout that ``transform`` checks).
        ConfigError, DataFormatError
            See the class docstring.
        """
        check_is_fitted(self, "layout_")
        layout, sos = self._resolve()
        n_fit = self.n_samples_in_
        Xv = self._input(X, layout, n_fit)
        plan = self.plan_
        if plan.names != tuple(layout.names) or (plan.gravity is None) != (sos is None) or (
            sos is not None and not np.array_equal(plan.gravity.sos_array(), sos)
        ) or plan.sampling_rate_hz != layout.sampling_rate_hz or plan.channels != layout.channels:
            plan = self._plan(layout, sos, n_fit)  # parameters changed after fit
        return _extract(Xv, plan, _DEFAULT_CHUNK, None)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Names of the output features.

        Parameters
        ----------
        input_features : ignored
            Accepted for scikit-learn compatibility.

        Returns
        -------
        numpy.ndarray of str (object), shape (n_features,)
            Same names, in the same order, as
            ``[f.name for f in feature_catalog(channels, feature_set, sampling_rate_hz)]``.

        Raises
        ------
        ConfigError
            For invalid parameters.
        """
        layout, _ = self._resolve()
        return np.asarray(layout.names, dtype=object)


    # ------------------------------------------------------------------ storage
    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The extractor as JSON-serialisable values and numeric arrays (no pickle).

        Returns
        -------
        meta : dict
            ``params`` (constructor parameters), ``fitted`` (``n_channels_in``,
            ``n_features_out``; None when not fitted) and ``feature_names``.
            The window length ``n_samples_in_`` is not written: the file that
            holds the extractor stores it once, in its window spec (a pipeline
            file's ``pipeline.window_spec``), and :meth:`from_state` gets it
            from there.
        arrays : dict of str to numpy.ndarray
            ``gravity_sos`` (float32, (n_sections, 6)) when the gravity filter
            runs: stored to check that the loading installation computes the
            same filter.

        Raises
        ------
        ConfigError
            For invalid parameters.
        """
        layout, sos = self._resolve()
        params = {
            "sampling_rate_hz": float(self.sampling_rate_hz),
            "channels": [str(c) for c in self.channels],
            "feature_set": str(self.feature_set),
            "gravity_cutoff_hz": float(self.gravity_cutoff_hz),
            "gravity_order": int(self.gravity_order),
            "bands_hz": None if self.bands_hz is None
            else [[float(lo), float(hi)] for lo, hi in self.bands_hz],
        }
        fitted = None
        if hasattr(self, "n_samples_in_"):
            fitted = {"n_channels_in": int(self.n_channels_in_),
                      "n_features_out": int(self.n_features_out_)}
        meta = {"params": params, "fitted": fitted, "feature_names": list(layout.names)}
        return meta, ({} if sos is None else {"gravity_sos": np.asarray(sos)})

    @classmethod
    def from_state(cls, state: StateReader, n_samples: int) -> FeatureExtractor:
        """Rebuild an extractor from :meth:`to_state`'s values and verify it.

        The feature layout and the gravity filter are recomputed from the
        parameters and must equal the stored feature names and coefficients
        (filter within 1e-6 relative: float32 rounding of another SciPy).

        Parameters
        ----------
        state : StateReader
            The extractor's section of a model file (:mod:`tinyhar.modelfile`).
        n_samples : int
            Window length (samples) of the file's window spec: the fitted
            extractor's ``n_samples_in_``. Files of model format 1 also
            stored it in the extractor (``fitted.n_samples_in``); such a
            value must equal this one.

        Returns
        -------
        FeatureExtractor
            Fitted when the saved one was.

        Raises
        ------
        tinyhar.modelfile.ModelFileError
            Missing or mistyped entries, invalid parameters, a layout or
            filter that differs from the stored one, or a stored window
            length that differs from ``n_samples``.
        """
        p = state.section("params")
        bands = p.value("bands_hz", "list", optional=True)
        if bands is not None and not all(
            isinstance(b, list) and len(b) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in b)
            for b in bands
        ):
            raise state.error("entry 'extractor.params.bands_hz' should be a list of [lo, hi]")
        fx = cls(
            sampling_rate_hz=p.value("sampling_rate_hz", "float"),
            channels=tuple(p.strings("channels")),
            feature_set=p.value("feature_set", "str"),
            gravity_cutoff_hz=p.value("gravity_cutoff_hz", "float"),
            gravity_order=p.value("gravity_order", "int"),
            bands_hz=None if bands is None else tuple((float(a), float(b)) for a, b in bands),
        )
        try:
            layout, sos = fx._resolve()
        except (ConfigError, DataFormatError) as exc:
            raise state.error(f"invalid feature-extractor parameters: {exc}") from None
        if list(layout.names) != state.strings("feature_names"):
            raise state.error(
                "the stored feature names differ from those this tinyhar computes for the "
                "stored parameters (written by another tinyhar version?)"
            )
        if sos is not None:
            stored = state.array("gravity_sos", np.float32, sos.shape)
            if not np.allclose(stored, sos, rtol=1e-6, atol=1e-9):
                raise state.error(
                    "the gravity filter this installation computes differs from the stored one "
                    f"(max difference {float(np.max(np.abs(stored - sos))):.3g})"
                )
        if state.has("fitted"):
            f = state.section("fitted")
            n_ch, n = f.value("n_channels_in", "int"), int(n_samples)
            if n_ch != len(layout.channels) or f.value("n_features_out", "int") != len(
                layout.names
            ):
                raise state.error("the extractor's fitted channel or feature count is inconsistent")
            stored = f.value("n_samples_in", "int", optional=True)  # model format 1 only
            if stored is not None and stored != n:
                raise state.error(
                    f"the feature extractor was fitted on windows of {stored} samples "
                    f"(extractor.fitted.n_samples_in) but the window spec says {n} "
                    "(pipeline.window_spec.n_samples): the file was edited or damaged"
                )
            try:
                check_window_length(layout, n)
            except DataFormatError as exc:
                raise state.error(f"invalid window length {n}: {exc}") from None
            fx.layout_ = layout
            fx.plan_ = fx._plan(layout, sos, n)
            fx.n_channels_in_ = fx.n_features_in_ = n_ch
            fx.n_samples_in_ = n
            fx.n_features_out_ = len(layout.names)
        return fx


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

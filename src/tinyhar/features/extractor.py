"""The hand-crafted features as a scikit-learn transformer (:class:`FeatureExtractor`).

The computation itself (vectorised numpy/SciPy, float32, chunks of windows)
is in :mod:`tinyhar.features.engine`; the definitions are those of
:mod:`tinyhar.features.catalog`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tinyhar.errors import ConfigError, DataFormatError
from tinyhar.features.catalog import DEFAULT_CHANNELS, FeatureLayout, check_window_length
from tinyhar.features.engine import (
    _DEFAULT_CHUNK,
    PlanFeatures,
    _extract,
    _validate_windows,
    extract_features,
    resolve_features,
)
from tinyhar.modelfile import StateReader

__all__ = ["FeatureExtractor", "extract_features"]


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
        return resolve_features(**self.get_params(deep=False))

    def _compile(self, n_samples: int) -> PlanFeatures:
        """:meth:`PlanFeatures.build` of these parameters: the one source of the plan.

        The result is kept (``_compiled``: set by ``fit``, not ``__init__``, so
        :func:`sklearn.base.clone` starts without it; pickled with the
        extractor) with the parameters and window length it was built for;
        :meth:`compiled` reuses it while they are unchanged.
        """
        built = PlanFeatures.build(n_samples, **self.get_params(deep=False))
        self._compiled = (self._plan_key(n_samples), built)
        return built

    def _plan_key(self, n_samples: int) -> tuple[str, int]:
        """The parameters (as text: lists and arrays compare too) and window length of a
        plan."""
        return repr(sorted(self.get_params(deep=False).items())), int(n_samples)

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
        layout, _ = self._resolve()
        Xv = self._input(X, layout)
        if Xv.shape[0] == 0:
            raise DataFormatError("X", "no windows to fit on (shape "
                                  f"{tuple(Xv.shape)})")
        compiled = self._compile(int(Xv.shape[1]))
        self.layout_, self.plan_ = compiled.layout, compiled.plan
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
        compiled = self.compiled()
        Xv = self._input(X, compiled.layout, compiled.n_samples)
        return _extract(Xv, compiled.plan, _DEFAULT_CHUNK, None)

    def compiled(self) -> PlanFeatures:
        """What :meth:`transform` computes, as an object without scikit-learn.

        Returns
        -------
        PlanFeatures
            Its ``transform`` gives this extractor's features of an array of
            windows bit for bit (:mod:`tinyhar.features.engine`: the same code
            on the same plan); a process that receives it need not import
            scikit-learn. Built once per fit: later calls return the same
            object while the parameters are unchanged (after ``set_params``,
            or an attribute set, it is built again for the new ones).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        ConfigError
            For invalid parameters.
        """
        check_is_fitted(self, "layout_")
        # the current parameters (set_params after fit builds anew), else the plan built before
        cached = getattr(self, "_compiled", None)
        if cached is not None and cached[0] == self._plan_key(self.n_samples_in_):
            return cached[1]
        return self._compile(self.n_samples_in_)

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
            compiled = fx._compile(n)
            fx.layout_, fx.plan_ = compiled.layout, compiled.plan
            fx.n_channels_in_ = fx.n_features_in_ = n_ch
            fx.n_samples_in_ = n
            fx.n_features_out_ = len(layout.names)
        return fx

"""The fitted artefact of a run: window layout + feature extractor + classifier."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np

from tinyhar.errors import ConfigError, DataFormatError, TinyharError
from tinyhar.features.validity import INVALID_CLASS, check_valid, invalid_windows
from tinyhar.windows.windowset import WindowSet

PIPELINE_FILE = "pipeline.joblib"
"""Name of the pipeline file in a run folder (:meth:`HarPipeline.save` writes it)."""


@dataclass
class HarPipeline:
    """Everything needed to classify new windows the way a run was trained.

    Parameters
    ----------
    extractor : FeatureExtractor or None
        Fitted feature transformer (:mod:`tinyhar.features`); maps windows
        ``(n_windows, n_samples, n_channels)`` to ``(n_windows, n_features)``.
        None for a neural network, which reads the raw windows.
    model : TreeEnsembleClassifier or NeuralNetClassifier
        Fitted classifier on those features (or windows).
    channels : list of str
        Input channel order, e.g. ``["acc_x", ..., "gyro_z"]`` (g, rad/s).
    sampling_rate_hz : float
        Sampling rate the model was trained at, in Hz.
    n_samples : int
        Samples per window.
    hop_samples : int or None
        Hop between windows in samples (None for pre-windowed data).
    stack_previous : bool
        Whether the previous window's features and deltas are appended.
    classes : list of str
        Class names in the model's output order.
    info : dict
        Free-form provenance (config, dataset name, seed).
    """

    extractor: object
    model: object
    channels: list[str]
    sampling_rate_hz: float
    n_samples: int
    hop_samples: int | None
    stack_previous: bool
    classes: list[str]
    info: dict = field(default_factory=dict)

    @property
    def streaming_hop(self) -> int:
        """Samples between two classified windows of a sample stream.

        The single source of the hop used by the C export
        (``TINYHAR_HOP_SAMPLES``), the MicroPython export (``HOP``) and
        ``tinyhar simulate``: the training hop when it is known, else (data
        cut into windows before tinyhar saw it, ``hop_samples`` None) half a
        window, i.e. 50 % overlap, the convention of UCI HAR (Anguita et al.
        2013, ESANN) and most HAR data sets; at least 1 sample.
        """
        if self.hop_samples:
            return int(self.hop_samples)
        return max(1, int(self.n_samples) // 2)

    @property
    def feature_names(self) -> list[str]:
        """Names of the model's input features, in order."""
        if self.extractor is None:
            return []
        names = list(self.extractor.get_feature_names_out())
        if self.stack_previous:
            from tinyhar.features import stack_previous_names

            names = stack_previous_names(names)
        return names

    def check_windows(self, windows: WindowSet) -> WindowSet:
        """Return the windows with the pipeline's channels, after checking rate and length.

        Raises
        ------
        DataFormatError
            Missing channels, another sampling rate or window length; the
            message says how to fix it.
        """
        missing = [c for c in self.channels if c not in windows.channels]
        if missing:
            raise DataFormatError(
                windows.name,
                f"the model needs channels {self.channels} but {missing} are missing "
                f"(data has {windows.channels})",
            )
        if abs(windows.sampling_rate_hz - self.sampling_rate_hz) > 1e-6:
            raise DataFormatError(
                windows.name,
                f"data is sampled at {windows.sampling_rate_hz:g} Hz, the model at "
                f"{self.sampling_rate_hz:g} Hz: set windows.target_rate_hz to "
                f"{self.sampling_rate_hz:g}",
            )
        if windows.n_samples != self.n_samples:
            raise DataFormatError(
                windows.name,
                f"windows have {windows.n_samples} samples, the model expects {self.n_samples}",
            )
        return windows.select_channels(self.channels)

    def transform(self, windows: WindowSet, on_chunk=None, chunk: int = 4096) -> np.ndarray:
        """Model inputs for the windows.

        Parameters
        ----------
        windows : WindowSet
            Windows ``(n_windows, n_samples, n_channels)`` in the pipeline's
            layout (checked by :meth:`check_windows`).
        on_chunk : callable, optional
            Called with the number of windows done after each chunk of
            ``chunk`` windows (e.g. to advance a progress bar).
        chunk : int
            Windows per feature-extraction call.

        Returns
        -------
        numpy.ndarray of float32
            ``(n_windows, n_features)`` features (previous-window features and
            deltas appended when ``stack_previous``), or the raw windows for a
            neural network.
        """
        windows = self.check_windows(windows)
        check_valid(windows.X, self.channels, windows.name, windows.session,  # NaN, inf,
                    windows.start_time)  # |x| > MAX_ABS_INPUT: the device contract
        if self.extractor is None:  # a neural network reads the raw windows
            return windows.X
        n = len(windows)
        parts = []
        for a in range(0, n, chunk):
            parts.append(self.extractor.transform(windows.X[a : a + chunk]))
            if on_chunk is not None:
                on_chunk(len(parts[-1]))
        if not parts:
            parts = [self.extractor.transform(windows.X)]
        features = np.concatenate(parts)
        if self.stack_previous:
            from tinyhar.features import stack_previous

            features = stack_previous(features, windows.session, windows.start_time)
        return features

    def predict(self, windows: WindowSet, on_invalid: str = "raise") -> np.ndarray:
        """Predicted class name per window.

        Parameters
        ----------
        windows : WindowSet
            Windows ``(n_windows, n_samples, n_channels)`` (g, rad/s).
        on_invalid : {"raise", "mark"}
            What to do with a window holding NaN, an infinity or a value
            beyond :data:`tinyhar.features.validity.MAX_ABS_INPUT` (the rule
            of the C and MicroPython exports): ``"raise"`` a
            :class:`~tinyhar.errors.DataFormatError` naming it, or ``"mark"``
            it with the class :data:`~tinyhar.features.validity.INVALID_CLASS`
            (``"invalid"``) and classify the others. With ``stack_previous``,
            a window after an invalid one is its own predecessor (as the C and
            MicroPython streams restart after an invalid window).

        Returns
        -------
        numpy.ndarray, shape (n_windows,)
            Class names.

        Raises
        ------
        DataFormatError
            Windows that do not fit the model, or invalid windows with
            ``on_invalid="raise"``.
        ConfigError
            An unknown ``on_invalid``, or ``"mark"`` for a model that has a
            class named ``"invalid"``.
        """
        if on_invalid == "raise":
            return self.model.predict(self.transform(windows))
        if on_invalid != "mark" or INVALID_CLASS in self.classes:
            raise ConfigError(
                f"on_invalid={on_invalid!r}: use 'raise' or 'mark' ('mark' needs a model "
                f"without a class named {INVALID_CLASS!r})"
            )
        windows = self.check_windows(windows)
        bad = invalid_windows(windows.X)
        out = np.full(len(windows), INVALID_CLASS, dtype=object)
        keep = np.flatnonzero(~bad)
        if keep.size:
            X = self.transform(windows.subset(keep))
            if self.stack_previous and bad.any():
                from tinyhar.features import stack_previous

                # predecessor of each window among all windows; after an invalid one: itself
                order = np.arange(len(windows), dtype=np.float64)[:, None]
                prev = stack_previous(order, windows.session, windows.start_time)[:, 1]
                restart = bad[prev[keep].astype(np.int64)]
                w = X.shape[1] // 3
                X[restart, w:2 * w] = X[restart, :w]
                X[restart, 2 * w:] = 0
            out[keep] = self.model.predict(X)
        return out

    def save(self, path: str | Path) -> Path:
        """Write the pipeline with joblib."""
        path = Path(path)
        joblib.dump(self, path, compress=3)
        return path

    @classmethod
    def load(cls, path: str | Path) -> HarPipeline:
        """Read a pipeline written by :meth:`save`.

        Raises
        ------
        TinyharError
            If the file is missing or is not a tinyhar pipeline.
        """
        path = Path(path)
        if not path.is_file():
            raise TinyharError(
                f"{path}: no pipeline file; is this a run folder made by `tinyhar train`?"
            )
        obj = joblib.load(path)
        if not isinstance(obj, cls):
            raise TinyharError(f"{path}: not a tinyhar pipeline")
        return obj

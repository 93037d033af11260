"""The fitted artefact of a run: window layout + feature extractor + classifier.

A pipeline is saved as one :data:`PIPELINE_FILE` (``pipeline.npz``): JSON
metadata plus numeric arrays (:mod:`tinyhar.modelfile`), never a pickle, so
loading a run folder cannot execute code from it. Run folders of tinyhar
0.1 hold a pickle (``pipeline.joblib``); they are refused with a message to
retrain, and there is no option to load them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyhar.core.channels import require_channels
from tinyhar.core.ids import repeated_id
from tinyhar.core.spec import WindowSpec
from tinyhar.core.windowset import WindowSet
from tinyhar.errors import ConfigError, DataFormatError, TinyharError
from tinyhar.features.validity import INVALID_CLASS, check_valid, invalid_windows
from tinyhar.modelfile import ModelFileError, StateReader, read_state_file, write_state_file
from tinyhar.validation import check_windows

PIPELINE_FILE = "pipeline.npz"
"""Name of the pipeline file in a run folder."""

LEGACY_PIPELINE_FILE = "pipeline.joblib"
"""The pickle of tinyhar 0.1 run folders: recognised only to refuse it with an explanation."""


def _model_types() -> dict[str, type]:
    """Storable model classes by their type name in a pipeline file."""
    from tinyhar.models.nn.estimator import NeuralNetClassifier
    from tinyhar.models.trees import TreeEnsembleClassifier

    return {"tree_ensemble": TreeEnsembleClassifier, "neural_network": NeuralNetClassifier}


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

    @classmethod
    def from_spec(cls, spec: WindowSpec, extractor: object, model: object,
                  stack_previous: bool, classes: list[str], info: dict | None = None,
                  ) -> HarPipeline:
        """A pipeline reading windows described by ``spec``.

        Parameters
        ----------
        spec : WindowSpec
            Channels (in order), sampling rate (Hz), samples per window and hop
            (samples) of the windows the model was trained on.
        extractor, model, stack_previous, classes, info
            As in the class parameters.

        Returns
        -------
        HarPipeline
            Its :attr:`spec` equals ``spec``.
        """
        return cls(extractor=extractor, model=model, channels=list(spec.channels),
                   sampling_rate_hz=spec.sampling_rate_hz, n_samples=spec.n_samples,
                   hop_samples=spec.hop_samples, stack_previous=stack_previous,
                   classes=classes, info={} if info is None else info)

    @property
    def spec(self) -> WindowSpec:
        """The :class:`~tinyhar.core.spec.WindowSpec` the model reads (saved in the file).

        Raises
        ------
        DataFormatError
            Fields out of range (no channels, a rate or length below 1).
        """
        return WindowSpec.of(self.channels, self.sampling_rate_hz, self.n_samples,
                             self.hop_samples)

    @property
    def streaming_hop(self) -> int:
        """Samples between two classified windows of a sample stream.

        :attr:`WindowSpec.streaming_hop <tinyhar.core.spec.WindowSpec.streaming_hop>`
        of :attr:`spec`: the training hop when it is known, else half a window.
        """
        return self.spec.streaming_hop

    @property
    def output_classes(self) -> list[str]:
        """The model's classes in the data set's declared order: the one class order users see.

        Metrics, reports, the C defines (``TINYHAR_CLASS_*``), the MicroPython
        class indices and the ONNX outputs all use this order. The model
        itself keeps ``model.classes_`` (scikit-learn sorts them);
        :attr:`output_index` maps between the two. Classes of the data set
        the model never saw are left out; a model class missing from
        :attr:`classes` (not made by tinyhar) goes last, in model order.
        """
        model = [str(c) for c in self.model.classes_]
        known = set(model)
        declared = [str(c) for c in self.classes if str(c) in known]
        return declared + [c for c in model if c not in set(declared)]

    @property
    def output_index(self) -> np.ndarray:
        """Position in :attr:`output_classes` of each model output column.

        Returns
        -------
        numpy.ndarray of int64, shape (n_model_classes,)
            ``output_classes[output_index[j]] == model.classes_[j]``; the
            probabilities ``p`` of the model (columns in ``classes_`` order)
            are ``q[:, output_index] = p`` in the declared order. The argmax
            stays the model's (ties go to the first class in ``classes_``
            order, on every back-end).
        """
        where = {c: i for i, c in enumerate(self.output_classes)}
        return np.asarray([where[str(c)] for c in self.model.classes_], dtype=np.int64)

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

    def as_windows(self, windows: WindowSet | np.ndarray) -> WindowSet:
        """Windows as a :class:`WindowSet`; a plain array is wrapped in the pipeline's layout.

        Parameters
        ----------
        windows : WindowSet or array-like, shape (n_windows, n_samples, n_channels)
            A WindowSet is returned as is. An array holds the samples in the
            pipeline's channel order (:attr:`channels`, g and rad/s) at its
            sampling rate; its windows are taken as consecutive windows of
            one session in row order (what ``stack_previous`` uses), unlabelled.

        Returns
        -------
        WindowSet
            The windows, named ``"array"`` when wrapped.

        Raises
        ------
        DataFormatError
            An array that is not numeric or not of shape
            ``(n_windows, n_samples, n_channels)`` with the pipeline's
            ``n_samples`` and number of channels.
        """
        if isinstance(windows, WindowSet):
            return windows
        X = check_windows(windows, source="array", channels=self.channels,
                          n_samples=self.n_samples)  # tinyhar.validation
        n = X.shape[0]
        return WindowSet(
            X, y=repeated_id("", n), subject=repeated_id("", n),
            session=repeated_id("array", n), start_time=np.full(n, np.nan),
            channels=list(self.channels), sampling_rate_hz=self.sampling_rate_hz,
            classes=list(self.classes), name="array",
        )

    def check_windows(self, windows: WindowSet) -> WindowSet:
        """Return the windows with the pipeline's channels, after checking rate and length.

        Raises
        ------
        DataFormatError
            Missing channels, another sampling rate or window length; the
            message says how to fix it.
        """
        require_channels(self.channels, windows.channels, windows.name)
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

    def transform(
        self, windows: WindowSet | np.ndarray, on_chunk=None, chunk: int = 4096
    ) -> np.ndarray:
        """Model inputs for the windows.

        Parameters
        ----------
        windows : WindowSet or numpy.ndarray
            Windows ``(n_windows, n_samples, n_channels)`` in the pipeline's
            layout (checked by :meth:`check_windows`; an array is wrapped by
            :meth:`as_windows`).
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
        windows = self.check_windows(self.as_windows(windows))
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

    def features_only(self) -> HarPipeline:
        """This pipeline without its model, its extractor compiled (no scikit-learn objects).

        For processes that only featurise windows (the per-session tasks of
        :mod:`tinyhar.features.table`): :meth:`transform` gives the same
        features bit for bit (the extractor as
        :class:`~tinyhar.features.engine.PlanFeatures`), and unpickling it
        imports neither scikit-learn nor the model's module.

        Returns
        -------
        HarPipeline
            A copy with ``model=None``; window layout, channels, classes,
            ``stack_previous`` and ``info`` shared with this one. An extractor
            without ``compiled()`` (not a
            :class:`~tinyhar.features.extractor.FeatureExtractor`) is kept as it is.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            The extractor is not fitted.
        """
        from dataclasses import replace

        compiled = getattr(self.extractor, "compiled", None)  # another transformer: as it is
        return replace(self, extractor=self.extractor if compiled is None else compiled(),
                       model=None)

    def predict_proba(self, windows: WindowSet | np.ndarray) -> np.ndarray:
        """Class probabilities per window.

        Parameters
        ----------
        windows : WindowSet or numpy.ndarray
            As for :meth:`predict`.

        Returns
        -------
        numpy.ndarray of float, shape (n_windows, n_classes)
            Probabilities; column ``k`` is the model's class ``classes_[k]``.

        Raises
        ------
        DataFormatError
            Windows that do not fit the model, or a window holding NaN, an
            infinity or a value beyond
            :data:`tinyhar.features.validity.MAX_ABS_INPUT`.
        """
        return self.model.predict_proba(self.transform(windows))

    def predict(self, windows: WindowSet | np.ndarray, on_invalid: str = "raise") -> np.ndarray:
        """Predicted class name per window.

        Parameters
        ----------
        windows : WindowSet or numpy.ndarray
            Windows ``(n_windows, n_samples, n_channels)`` (g, rad/s); an
            array holds the channels in the order :attr:`channels` (see
            :meth:`as_windows`).
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
        windows = self.as_windows(windows)
        if on_invalid == "raise":
            return self.model.predict(self.transform(windows))
        if on_invalid != "mark" or INVALID_CLASS in self.classes:
            raise ConfigError(
                f"on_invalid={on_invalid!r}: use 'raise' or 'mark' ('mark' needs a model "
                f"without a class named {INVALID_CLASS!r})"
            )
        windows = self.check_windows(windows)
        bad = invalid_windows(windows.X)
        out = repeated_id(INVALID_CLASS, len(windows))
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
        """Write the pipeline to one file without pickle (atomically: temp file + rename).

        The file (:data:`PIPELINE_FILE` in a run folder) is an ``.npz``
        archive: a JSON entry with the format name and version, the tinyhar
        version, this pipeline's fields and the components' parameters, plus
        the numeric arrays (tree nodes and leaves, network weights, filter
        coefficients); see :mod:`tinyhar.modelfile`.

        Parameters
        ----------
        path : str or Path
            Destination file.

        Returns
        -------
        Path
            ``path``.

        Raises
        ------
        TinyharError
            The model or extractor is not fitted or of a kind that cannot be
            stored, was fitted on windows of another shape than the
            pipeline's window spec (the file stores the shape once, in the
            spec), or ``info`` holds values that are not plain JSON.
        """
        from sklearn.exceptions import NotFittedError

        path = Path(path)
        types = {cls: name for name, cls in _model_types().items()}
        kind = types.get(type(self.model))
        if kind is None:
            raise TinyharError(f"cannot save a pipeline with a {type(self.model).__name__} model")
        try:
            model_meta, model_arrays = self.model.to_state()
        except NotFittedError:
            raise TinyharError("cannot save a pipeline whose model is not fitted") from None
        arrays = {f"model.{k}": v for k, v in model_arrays.items()}
        extractor_meta = None
        if self.extractor is not None:
            from tinyhar.features.extractor import FeatureExtractor

            if not isinstance(self.extractor, FeatureExtractor):
                raise TinyharError(
                    f"cannot save a pipeline with a {type(self.extractor).__name__} extractor"
                )
            extractor_meta, fx_arrays = self.extractor.to_state()
            arrays.update({f"extractor.{k}": v for k, v in fx_arrays.items()})
        # The window spec is the one place of the window length and channels: the
        # extractor and a network get theirs from it on load.
        model_n_in = getattr(self.model, "n_samples_in_", None)
        fx_n_in = getattr(self.extractor, "n_samples_in_", None)
        if (model_n_in is not None and (model_n_in, self.model.n_channels_in_) != (
                self.n_samples, len(self.channels))) or (
                fx_n_in is not None and fx_n_in != self.n_samples):
            raise TinyharError(
                f"cannot save the pipeline: its window spec is {self.n_samples} samples x "
                f"{len(self.channels)} channels but its "
                f"{'network' if model_n_in is not None else 'feature extractor'} was fitted "
                "on windows of another shape"
            )
        meta = {
            "pipeline": {
                "window_spec": self.spec.to_dict(),
                "stack_previous": bool(self.stack_previous),
                "classes": [str(c) for c in self.classes],
                "info": self.info,
            },
            "extractor": extractor_meta,
            "model_type": kind,
            "model": model_meta,
        }
        try:
            return write_state_file(path, meta, arrays)
        except TypeError as exc:  # e.g. an object in info: it could only be pickled
            raise TinyharError(f"cannot save the pipeline to {path}: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> HarPipeline:
        """Read a pipeline written by :meth:`save`; never executes code from the file.

        The file is read with ``numpy.load(..., allow_pickle=False)``; every
        entry is checked (format version, types, dtypes, shapes, indices) and
        the components are rebuilt from their parameters and arrays. There is
        no way to load a pickle: run folders of tinyhar 0.1
        (``pipeline.joblib``) must be trained again.

        Parameters
        ----------
        path : str or Path
            The pipeline file, or a run folder holding :data:`PIPELINE_FILE`.

        Returns
        -------
        HarPipeline

        Raises
        ------
        TinyharError
            No pipeline file (a tinyhar 0.1 pickle is named as such), or
            (:class:`~tinyhar.modelfile.ModelFileError`) a truncated, corrupt,
            foreign, newer or inconsistent file; a network model without
            PyTorch installed.
        """
        path = Path(path)
        if path.is_dir():
            path = path / PIPELINE_FILE
        if not path.is_file():
            legacy = path.with_name(LEGACY_PIPELINE_FILE)
            if legacy.is_file():
                raise ModelFileError(
                    legacy,
                    "this run folder was written by an older tinyhar: its model is a pickle, "
                    "which tinyhar no longer loads because loading a pickle can run any code; "
                    "retrain with `tinyhar train` (config.yaml in the folder reproduces the run)",
                )
            raise TinyharError(
                f"{path}: no pipeline file; is this a run folder made by `tinyhar train`?"
            )
        state = read_state_file(path)
        p = state.section("pipeline")
        spec = _read_spec(p)
        kind = state.value("model_type", "str")
        model_cls = _model_types().get(kind)
        if model_cls is None:
            raise state.error(f"unknown model type {kind!r}")
        if kind == "neural_network":  # reads the raw windows: its input shape is the spec's
            model = model_cls.from_state(state.section("model"), spec.n_samples,
                                         len(spec.channels))
        else:
            model = model_cls.from_state(state.section("model"))
        extractor = None
        if state.has("extractor"):
            from tinyhar.features.extractor import FeatureExtractor

            extractor = FeatureExtractor.from_state(state.section("extractor"), spec.n_samples)
        pipeline = cls.from_spec(
            spec,
            extractor=extractor,
            model=model,
            stack_previous=p.value("stack_previous", "bool"),
            classes=p.strings("classes"),
            info=p.value("info", "dict"),
        )
        pipeline._check_consistent(state)
        state.check_all_arrays_read()
        return pipeline

    def _check_consistent(self, state: StateReader) -> None:
        """Raise if the loaded components do not fit together."""
        if self.extractor is None:
            if not hasattr(self.model, "n_samples_in_") or self.stack_previous:
                raise state.error("a tree model needs a feature extractor")
            return  # the network's input shape is the spec's (NeuralNetClassifier.from_state)
        fx = self.extractor
        if list(fx.channels) != self.channels or fx.sampling_rate_hz != self.sampling_rate_hz:
            raise state.error("the feature extractor's channels or rate differ from the pipeline's")
        n_in = getattr(self.model, "n_features_in_", None)
        if n_in != len(self.feature_names):  # feature_names includes the stacked columns
            raise state.error(
                f"the model reads {n_in} features but the extractor makes "
                f"{len(self.feature_names)}"
            )


def _read_spec(p: StateReader) -> WindowSpec:
    """The window spec of a pipeline file's ``pipeline`` section.

    Files of this tinyhar hold ``window_spec`` (:meth:`WindowSpec.to_dict`);
    files written before it hold ``channels``, ``sampling_rate_hz``,
    ``n_samples`` and ``hop_samples``, from which the spec is derived here and
    nowhere else (units from the channel names).

    Raises
    ------
    ModelFileError
        A spec out of range, or units that differ from the channels' units.
    """
    try:
        if not p.has("window_spec") and p.has("channels"):  # written before the spec
            return WindowSpec.of(
                p.strings("channels"), p.value("sampling_rate_hz", "float"),
                p.value("n_samples", "int"), p.value("hop_samples", "int", optional=True),
            )
        spec = WindowSpec.from_dict(p.value("window_spec", "dict"), "window_spec")
    except ModelFileError:
        raise
    except DataFormatError as exc:
        raise p.error(f"invalid window layout: {exc}") from None
    derived = WindowSpec.of(spec.channels, spec.sampling_rate_hz, spec.n_samples,
                            spec.hop_samples)
    if spec.units != derived.units:
        raise p.error(
            f"window_spec units {list(spec.units)} are not those of channels "
            f"{list(spec.channels)} ({list(derived.units)})"
        )
    return spec

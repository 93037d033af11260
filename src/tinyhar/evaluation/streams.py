"""Whole recordings as window streams: probabilities, post-processing and continuous scores.

A user does not classify pre-cut, pure windows: they wear a sensor and want a
timeline. This module cuts *every* window of each session (a window length
and hop as the run was trained with, impure windows and unlabelled spans
included), classifies them chunk by chunk (memory bounded for recordings of
many hours), post-processes them per contiguous run with a
:class:`~tinyhar.postprocess.PostProcessor` and scores the window sequences
with :func:`tinyhar.evaluation.continuous.continuous_metrics`.

Labels: each window carries the majority label of its samples, whatever its
purity (``""`` when most samples are unlabelled). Scoring leaves out windows
whose label is ``""`` or a class the model does not know (e.g. HAPT postural
transitions for a model of the 6 basic activities) and counts them.

Runs: the windows of a session form contiguous *runs*, cut at gaps in the
sampling (a time step above :data:`~tinyhar.windows.cutting.GAP_FACTOR`
sampling periods, as in :mod:`tinyhar.windows.windowing`) and at invalid windows
(:func:`tinyhar.features.validity.invalid_windows`): an invalid window gets
the class ``"invalid"``, no probabilities, and the post-processing (and a
``stack_previous`` feature history) restarts after it, as the C and
MicroPython streams do.

Memory: the recording itself (as loaded; or one piece of it at a time when it
comes as consecutive pieces, e.g. the batches of rows of
:meth:`tinyhar.datasets.sessions.SessionSource.iter_batches`, plus fewer than
``chunk * hop + n_samples`` samples carried over between pieces; a whole
contiguous part when it must be resampled), one chunk of at most ``chunk``
windows (``chunk * n_samples * n_channels * 4`` bytes, e.g. 4096 x 128 x 6 x 4
= 12.6 MB) with its features, and ``n_classes + 8`` numbers per window of the
results (about 110 bytes per window for 6 classes: 8 hours at a 1.28 s hop
are 22,500 windows, 2.5 MB).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tinyhar.datasets.recording import RecordingSet, joined_origins
from tinyhar.errors import ConfigError
from tinyhar.evaluation.continuous import continuous_metrics
from tinyhar.evaluation.splits import group_kfold
from tinyhar.features.streams import (  # noqa: F401 (cut and featurised here before)
    _FEATURE_ROWS,
    STREAM_CHUNK,
    StreamChunk,
    StreamFeatures,
    iter_stream_features,
    iter_stream_windows,
)
from tinyhar.features.validity import INVALID_CLASS
from tinyhar.postprocess import UNKNOWN_CLASS, OodModel, PostProcessor
from tinyhar.postprocess.posture import (
    DEFAULT_CONTEXT,
    DEFAULT_MIN_WALKING,
    POSTURE_KEYS,
    posture_candidates,
)
from tinyhar.postprocess.rejection import REJECT_KEYS, PostureOodModel, rejection_from_options

_PER_WINDOW = ("session", "subject", "run", "t_start", "t_end", "y", "proba", "invalid",
               "acc_magnitude")
"""Per-window arrays of :class:`StreamPredictions` (besides the optional ``ood``)."""

def class_probabilities(model, features: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """A classifier's probabilities with columns in the order of ``classes``.

    Parameters
    ----------
    model : object
        A fitted classifier with ``predict_proba`` and ``classes_`` (a
        cross-validation fold model may know fewer classes than the run).
    features : numpy.ndarray, shape (n_windows, n_features)
        Model inputs (or raw windows for a network).
    classes : sequence of str
        The run's classes.

    Returns
    -------
    numpy.ndarray of float64, shape (n_windows, len(classes))
        Columns of classes the model does not know are 0.
    """
    p = np.asarray(model.predict_proba(features), dtype=np.float64)
    out = np.zeros((p.shape[0], len(classes)), dtype=np.float64)
    where = {str(c): i for i, c in enumerate(classes)}
    for j, c in enumerate(model.classes_):
        out[:, where[str(c)]] = p[:, j]
    return out


@dataclass
class StreamPredictions:
    """Per-window results of whole recordings, in time order within each session.

    Attributes
    ----------
    classes : list of str
        The run's classes (probability columns).
    session, subject : numpy.ndarray of str, shape (n_windows,)
    run : numpy.ndarray of int64, shape (n_windows,)
        Contiguous run of the window within its session (a new run starts at
        a gap and after invalid windows); post-processing works per run.
    t_start, t_end : numpy.ndarray of float64, shape (n_windows,)
        Window start and end in s from the session start.
    y : numpy.ndarray of str, shape (n_windows,)
        Majority true label (``""`` = mostly unlabelled or no labels).
    proba : numpy.ndarray of float64, shape (n_windows, n_classes)
        Class probabilities; NaN rows for invalid windows.
    invalid : numpy.ndarray of bool, shape (n_windows,)
        Windows failing the input contract.
    acc_magnitude : numpy.ndarray of float64, shape (n_windows,)
        Mean acceleration magnitude of each window in g (for timelines; NaN
        without accelerometer or for invalid windows).
    window_s, hop_s : float
        Window length and hop in s.
    ood : numpy.ndarray of float64, shape (n_windows,), optional
        OOD score of each window (:class:`~tinyhar.postprocess.OodModel`);
        NaN for invalid windows; None when not computed.
    gravity : numpy.ndarray of float64, shape (n_windows, 3), optional
        Mean acceleration of each window along ``acc_x, acc_y, acc_z`` in g
        (the gravity direction, for the posture correction of
        :class:`~tinyhar.postprocess.posture.PostureCorrection`); NaN rows
        for invalid windows; None without the three accelerometer channels.
    origins : dict of str -> float, optional
        Session -> clock time of its start (``t_start`` 0) in s since the Unix
        epoch, UTC, for the sessions whose recordings have one
        (:attr:`tinyhar.datasets.recording.RecordingSet.origins`); None when
        none has.
    """

    classes: list[str]
    session: np.ndarray
    subject: np.ndarray
    run: np.ndarray
    t_start: np.ndarray
    t_end: np.ndarray
    y: np.ndarray
    proba: np.ndarray
    invalid: np.ndarray
    acc_magnitude: np.ndarray
    window_s: float
    hop_s: float
    ood: np.ndarray | None = None
    gravity: np.ndarray | None = None
    origins: dict[str, float] | None = None

    def __len__(self) -> int:
        return len(self.session)

    def run_keys(self) -> np.ndarray:
        """One id per (session, run), shape (n_windows,): the sequences post-processing sees."""
        return np.array([f"{s}\x1f{r}" for s, r in zip(self.session, self.run, strict=True)],
                        dtype=object)

    def subset(self, mask: np.ndarray) -> StreamPredictions:
        """The windows where ``mask`` is true (order kept)."""
        return StreamPredictions(
            self.classes, **{k: getattr(self, k)[mask] for k in _PER_WINDOW},
            window_s=self.window_s, hop_s=self.hop_s,
            ood=None if self.ood is None else self.ood[mask],
            gravity=None if self.gravity is None else self.gravity[mask],
            origins=self.origins,
        )

    def classify(self, spec: PostProcessor | None = None) -> np.ndarray:
        """Class index per window, raw (``spec`` None) or post-processed; -1 = invalid.

        Post-processed indices include ``n_classes`` (``"unknown"``) when
        the spec rejects windows.

        Raises
        ------
        ConfigError
            The post-processor does not fit the classes or is not fitted, or
            it needs OOD scores these predictions do not have.
        """
        out = np.full(len(self), -1, dtype=np.int64)
        ok = ~self.invalid
        if ok.any():
            if spec is None:
                out[ok] = np.argmax(self.proba[ok], axis=1)
            else:
                ood = None if self.ood is None else self.ood[ok]
                grav = None if self.gravity is None else self.gravity[ok]
                out[ok] = spec.apply(self.proba[ok], self.run_keys()[ok], ood, grav)
        return out

    def rejected(self, spec: PostProcessor) -> np.ndarray:
        """Windows the spec's rejection marks unknown before smoothing
        (:meth:`PostProcessor.rejected`), bool (n_windows,)."""
        out = np.zeros(len(self), dtype=bool)
        ok = ~self.invalid
        if ok.any() and spec.rejection.active:
            ood = None if self.ood is None else self.ood[ok]
            grav = None if self.gravity is None else self.gravity[ok]
            out[ok] = spec.rejected(self.proba[ok], self.run_keys()[ok], ood, grav)
        return out

    @classmethod
    def concatenate(cls, parts: Sequence[StreamPredictions], classes: Sequence[str],
                    window_s: float, hop_s: float) -> StreamPredictions:
        """Predictions of several recordings, one after the other (e.g. one per session).

        Parameters
        ----------
        parts : sequence of StreamPredictions
            With the same classes; all with OOD scores (and mean accelerations)
            or none (parts without windows aside). The sessions' origins are
            joined.
        classes : sequence of str
        window_s, hop_s : float
            Window length and hop in s (for an empty result).

        Returns
        -------
        StreamPredictions
        """
        rows = [{k: getattr(p, k) for k in _PER_WINDOW} for p in parts]
        out = _concat(rows, list(classes), window_s, hop_s)
        parts = [p for p in parts if len(p)]  # one without windows (a short session) has none
        for key in ("ood", "gravity"):  # optional: all parts have them, or none
            have = [getattr(p, key) is not None for p in parts]
            if parts and all(have):
                setattr(out, key, np.concatenate([getattr(p, key) for p in parts]))
            elif any(have):
                raise ValueError(f"StreamPredictions.concatenate: some parts have {key}, "
                                 "others not")
        out.origins = joined_origins(parts)
        return out

    def names(self, idx: np.ndarray) -> np.ndarray:
        """Class names of :meth:`classify` output, object array.

        ``"invalid"`` for -1, ``"unknown"`` for ``n_classes``.
        """
        return _class_names(self.classes, idx)


def _class_names(classes: Sequence[str], idx: np.ndarray) -> np.ndarray:
    """Names of class indices: ``"invalid"`` for -1, ``"unknown"`` for ``len(classes)``."""
    table = np.asarray(list(classes) + [UNKNOWN_CLASS, INVALID_CLASS], dtype=object)
    return table[np.where(idx < 0, len(classes) + 1, idx)]


_LABEL_ARRAYS = ("session", "subject", "y", "raw", "smoothed", "rejected", "invalid", "t_start",
                 "acc_magnitude")


@dataclass
class StreamLabels:
    """Raw and post-processed class of every window of whole streams: what the scores need.

    The compact form of :class:`StreamPredictions` once classified (no
    probabilities, class indices as int16): about 45 bytes per window, so the
    labels of thousands of hours fit in memory while the recordings are read
    one session at a time (:mod:`tinyhar.evaluation.sessionstreams`). Made per
    session and concatenated, they equal those of all sessions at once
    (post-processing restarts at every session).

    Attributes
    ----------
    classes : list of str
        The run's classes.
    postprocess : str
        The post-processing that made ``smoothed`` (its description).
    rejecting : bool
        Whether it rejects windows as unknown.
    session, subject, y : numpy.ndarray of str (object), shape (n_windows,)
        As :class:`StreamPredictions` (``y`` the majority true label).
    raw, smoothed : numpy.ndarray of int16, shape (n_windows,)
        Class index before and after post-processing (-1 = invalid,
        ``n_classes`` = unknown; :meth:`names`).
    rejected, invalid : numpy.ndarray of bool, shape (n_windows,)
        Rejected as unknown before smoothing; failing the input contract.
    t_start : numpy.ndarray of float64, shape (n_windows,)
        Window start in s from the session start.
    acc_magnitude : numpy.ndarray of float32, shape (n_windows,)
        Mean acceleration magnitude in g (timelines).
    window_s, hop_s : float
        Window length and hop in s.
    origins : dict of str -> float, optional
        Clock time of each date-time session's first sample, s since the
        epoch (UTC), as :attr:`StreamPredictions.origins`; None without.
    """

    classes: list[str]
    postprocess: str
    rejecting: bool
    session: np.ndarray
    subject: np.ndarray
    y: np.ndarray
    raw: np.ndarray
    smoothed: np.ndarray
    rejected: np.ndarray
    invalid: np.ndarray
    t_start: np.ndarray
    acc_magnitude: np.ndarray
    window_s: float
    hop_s: float
    origins: dict[str, float] | None = None

    def __len__(self) -> int:
        return len(self.session)

    @classmethod
    def classify(cls, pred: StreamPredictions, spec: PostProcessor) -> StreamLabels:
        """Classify predictions raw and with ``spec`` (:meth:`StreamPredictions.classify`).

        Raises
        ------
        ConfigError
            As :meth:`StreamPredictions.classify`.
        """
        return cls(
            list(pred.classes), spec.describe(), bool(spec.rejection.active),
            pred.session, pred.subject, pred.y,
            pred.classify().astype(np.int16), pred.classify(spec).astype(np.int16),
            pred.rejected(spec), pred.invalid, pred.t_start,
            pred.acc_magnitude.astype(np.float32), pred.window_s, pred.hop_s, pred.origins,
        )

    @classmethod
    def concatenate(cls, parts: Sequence[StreamLabels]) -> StreamLabels:
        """Labels of several recordings one after the other (same classes and spec).

        Raises
        ------
        ValueError
            No parts.
        """
        if not parts:
            raise ValueError("StreamLabels.concatenate: nothing to concatenate")
        first = parts[0]
        arrays = {k: np.concatenate([getattr(p, k) for p in parts]) for k in _LABEL_ARRAYS}
        return cls(first.classes, first.postprocess, first.rejecting, **arrays,
                   window_s=first.window_s, hop_s=first.hop_s, origins=joined_origins(parts))

    def subset(self, mask: np.ndarray) -> StreamLabels:
        """The windows where ``mask`` is true (order kept)."""
        return StreamLabels(self.classes, self.postprocess, self.rejecting,
                            **{k: getattr(self, k)[mask] for k in _LABEL_ARRAYS},
                            window_s=self.window_s, hop_s=self.hop_s, origins=self.origins)

    def names(self, idx: np.ndarray) -> np.ndarray:
        """Class names of ``raw``/``smoothed`` indices (``"invalid"``, ``"unknown"``), object."""
        return _class_names(self.classes, idx)

    def timeline_rows(self) -> dict[str, np.ndarray]:
        """Label bands of a timeline: true (if labelled), raw, unknown (if rejecting), smoothed.

        Returns
        -------
        dict of str -> numpy.ndarray of str, shape (n_windows,)
            ``"unknown"`` row: ``"unknown"`` where the rejection fires before
            smoothing, ``""`` elsewhere.
        """
        rows = {"true": self.y} if np.any(self.y != "") else {}
        rows["raw"] = self.names(self.raw)
        if self.rejecting:
            rows["unknown"] = np.where(self.rejected, UNKNOWN_CLASS, "").astype(object)
        rows["smoothed"] = self.names(self.smoothed)
        return rows


def _concat(parts: list[dict], classes: list[str], window_s: float, hop_s: float):
    k = len(classes)
    if not parts:
        empty = np.zeros(0)
        return StreamPredictions(
            list(classes), empty.astype(object), empty.astype(object), empty.astype(np.int64),
            empty, empty, empty.astype(object), np.zeros((0, k)), empty.astype(bool), empty,
            window_s, hop_s, None,
        )
    return StreamPredictions(
        list(classes),
        **{key: np.concatenate([p[key] for p in parts]) for key in parts[0]},
        window_s=window_s,
        hop_s=hop_s,
    )


def stream_predictions(
    pipeline,
    recordings: RecordingSet | Iterable[RecordingSet],
    model_for_subject: Callable[[str], object] | None = None,
    chunk: int = STREAM_CHUNK,
    on_windows: Callable[[int], None] | None = None,
    ood_model: OodModel | Callable[[str], OodModel] | None = None,
) -> StreamPredictions:
    """Classify every window of the recordings with a run's pipeline, chunk by chunk.

    Windows are cut with the pipeline's window length and streaming hop
    (:attr:`~tinyhar.models.pipeline.HarPipeline.streaming_hop`), at its
    sampling rate (the recordings are resampled when theirs differs): the
    features of each chunk (:func:`iter_stream_features`) are classified
    (:meth:`StreamFeatures.predictions`) before the next chunk is cut.

    Parameters
    ----------
    pipeline : HarPipeline
        The run's fitted pipeline (features and classes).
    recordings : RecordingSet or iterable of RecordingSet
        Continuous recordings with the pipeline's channels, whole or as
        consecutive pieces (:func:`iter_stream_windows`: the same windows and
        chunks either way, so the same predictions; the post-processing state
        of a run, and the ``stack_previous`` history, carry over between
        pieces).
    model_for_subject : callable, optional
        ``model_for_subject(subject) -> classifier`` to use another model per
        subject (cross-validation fold models for cross-validated
        probabilities); default: the pipeline's model.
    chunk : int
        Most windows classified at a time (see the module docstring for the
        memory bound).
    on_windows : callable, optional
        Called with the number of windows done after each chunk (progress).
    ood_model : OodModel or callable, optional
        Computes the OOD score of each valid window from its features (or
        ``ood_model(subject) -> OodModel``, e.g. fold models for
        cross-validated scores); default: no OOD scores.

    Returns
    -------
    StreamPredictions
        With the recordings' session origins (:attr:`StreamPredictions.origins`).

    Raises
    ------
    DataFormatError
        Missing channels.
    """
    classes = list(pipeline.classes)
    parts = []
    origins: dict[str, float] = {}

    def noting(pieces: Iterable[RecordingSet]):  # the origins of the pieces, as they pass
        for piece in pieces:
            origins.update(piece.origins or {})
            yield piece

    pieces = [recordings] if isinstance(recordings, RecordingSet) else recordings
    for chunk_features in iter_stream_features(pipeline, noting(pieces), chunk):
        parts.append(classify_stream_features(chunk_features, classes, pipeline.model,
                                              model_for_subject, ood_model))
        if on_windows is not None:
            on_windows(len(chunk_features))
    out = StreamPredictions.concatenate(
        parts, classes, pipeline.n_samples / pipeline.sampling_rate_hz,
        pipeline.streaming_hop / pipeline.sampling_rate_hz)
    out.origins = origins or None
    return out


def classify_stream_features(
    facts: StreamFeatures, classes: Sequence[str], model=None,
    model_for_subject: Callable[[str], object] | None = None,
    ood_model: OodModel | Callable[[str], OodModel] | None = None,
) -> StreamPredictions:
    """Classify featurised stream windows: probabilities (and OOD scores) per window.

    Parameters
    ----------
    facts : StreamFeatures
        Every window of whole streams as model inputs
        (:func:`tinyhar.features.streams.iter_stream_features`).
    classes : sequence of str
        The run's classes (probability columns).
    model : object, optional
        The classifier (``predict_proba``, ``classes_``) for every subject.
    model_for_subject, ood_model : callable or OodModel, optional
        As :func:`stream_predictions`; called once per subject.

    Returns
    -------
    StreamPredictions
        Equal to :func:`stream_predictions` on the recordings ``facts`` came from.
    """
    n = len(facts)
    proba = np.full((n, len(classes)), np.nan)
    ood = np.full(n, np.nan)
    ok = np.flatnonzero(~facts.invalid)
    subjects = facts.subject[ok]
    for s in dict.fromkeys(subjects.tolist()):  # each subject in order of appearance
        mine = subjects == s
        rows = facts.features[mine] if len(mine) and not mine.all() else facts.features
        m = model if model_for_subject is None else model_for_subject(str(s))
        proba[ok[mine]] = class_probabilities(m, rows, classes)
        if ood_model is not None:
            scorer = ood_model if isinstance(ood_model, OodModel) else ood_model(str(s))
            ood[ok[mine]] = scorer.score(rows)
    return StreamPredictions(
        list(classes), **{k: getattr(facts, k) for k in _FEATURE_ROWS}, proba=proba,
        window_s=facts.window_s, hop_s=facts.hop_s, ood=None if ood_model is None else ood,
        gravity=facts.gravity,
    )


def scoring_labels(pred: StreamPredictions | StreamLabels) -> tuple[np.ndarray, dict[str, int]]:
    """True labels to score and the count of each left-out label.

    Windows whose majority label is ``""`` (unlabelled) or a class the model
    does not know are left out (label ``""``).

    Returns
    -------
    y : numpy.ndarray of str, shape (n_windows,)
    excluded : dict
        Left-out label (``"unlabelled"`` for ``""``) -> number of windows.
    """
    known = set(pred.classes)
    y = np.array([v if v in known else "" for v in pred.y], dtype=object)
    excluded: dict[str, int] = {}
    for v in pred.y[y == ""]:
        key = v or "unlabelled"
        excluded[key] = excluded.get(key, 0) + 1
    return y, dict(sorted(excluded.items()))


def stream_scores(pred: StreamPredictions | StreamLabels, spec: PostProcessor | None = None
                  ) -> dict:
    """Continuous metrics of the window sequences before and after post-processing.

    Each session's windows, in time order, are one sequence of positions of
    duration ``hop_s`` (:func:`tinyhar.evaluation.continuous.continuous_metrics`:
    per-window accuracy, macro-F1 and Cohen's kappa, segment F1 at IoU >= 0.5,
    over-segmentation, edit score, median delay in s). Invalid windows count
    as wrong when labelled.

    Parameters
    ----------
    pred : StreamPredictions or StreamLabels
        Predictions to classify with ``spec``, or windows already classified
        (:meth:`StreamLabels.classify`, e.g. session by session).
    spec : PostProcessor
        The run's post-processing (not used with ``StreamLabels``).

    Returns
    -------
    dict
        ``postprocess`` (description), ``window_s``, ``hop_s``,
        ``n_windows``, ``n_invalid``, ``n_sessions``, ``excluded`` (left-out
        label -> windows), ``raw`` and ``smoothed`` (each the dict of
        :func:`~tinyhar.evaluation.continuous.continuous_metrics`; a window
        the post-processing calls ``unknown`` counts as wrong),
        ``rejected`` (fraction of valid windows rejected before smoothing),
        ``smoothed_unknown`` (fraction of valid windows ``unknown`` after
        smoothing) and ``unknown_by_label`` (:func:`unknown_by_label`).

    Raises
    ------
    EvaluationError
        No window has a label the model knows.
    """
    labels = pred if isinstance(pred, StreamLabels) else StreamLabels.classify(pred, spec)
    y, excluded = scoring_labels(labels)
    kw = {"sessions": labels.session, "step_s": labels.hop_s}
    n_valid = max(1, int((~labels.invalid).sum()))
    return {
        "postprocess": labels.postprocess,
        "window_s": labels.window_s,
        "hop_s": labels.hop_s,
        "n_windows": len(labels),
        "n_invalid": int(labels.invalid.sum()),
        "n_sessions": len(set(labels.session.tolist())),
        "excluded": excluded,
        "raw": continuous_metrics(y, labels.names(labels.raw), **kw),
        "smoothed": continuous_metrics(y, labels.names(labels.smoothed), **kw),
        "rejected": float(labels.rejected.sum() / n_valid),
        "smoothed_unknown": float(np.count_nonzero(labels.smoothed == len(labels.classes))
                                  / n_valid),
        "unknown_by_label": unknown_by_label(labels),
    }


def unknown_by_label(pred: StreamPredictions | StreamLabels,
                     spec: PostProcessor | None = None) -> dict:
    """How often each kind of window is called unknown (empty without rejection).

    Parameters
    ----------
    pred : StreamPredictions or StreamLabels
        Predictions to classify with ``spec``, or windows already classified.
    spec : PostProcessor
        The run's post-processing (not used with ``StreamLabels``).

    Returns
    -------
    dict
        ``"known"`` (windows whose label is a class of the model: the false
        rejections) and each left-out label (``"unlabelled"`` for ``""``,
        e.g. HAPT's postural transitions for a model of the basic
        activities) -> ``{"n", "rejected", "unknown_smoothed"}``: number of
        valid windows, fraction rejected before smoothing, fraction
        ``unknown`` after it.
    """
    labels = pred if isinstance(pred, StreamLabels) else StreamLabels.classify(pred, spec)
    if not labels.rejecting:
        return {}
    unknown = labels.smoothed == len(labels.classes)
    known = set(labels.classes)
    group = np.array(["known" if v in known else (v or "unlabelled") for v in labels.y],
                     dtype=object)
    out = {}
    for g in ["known", *sorted(set(group.tolist()) - {"known"})]:
        m = (group == g) & ~labels.invalid
        if m.any():
            out[g] = {"n": int(m.sum()), "rejected": float(labels.rejected[m].mean()),
                      "unknown_smoothed": float(unknown[m].mean())}
    return out


def select_on_streams(
    pred_cv: StreamPredictions,
    options: dict,
    n_folds: int,
    streamable_only: bool = False,
    ood_model: OodModel | None = None,
) -> tuple[PostProcessor, list[dict], str]:
    """Choose or fit the post-processing on cross-validated training streams.

    Parameters
    ----------
    pred_cv : StreamPredictions
        The *training* subjects' streams, each window classified by the
        cross-validation fold model that did not see its subject (and, for
        OOD rejection, scored by an OOD model fitted without its subject).
    options : dict
        The ``postprocess:`` configuration: ``smoothing`` (``"auto"`` =
        choose among :func:`~tinyhar.postprocess.default_candidates` at the
        streams' hop (``pred_cv.hop_s``) by leave-subjects-out CV; otherwise
        that option, fitted), the
        :class:`~tinyhar.postprocess.PostProcessor` options and the
        rejection keys (:data:`~tinyhar.postprocess.rejection.REJECT_KEYS`).
        The rejection thresholds are calibrated first, on the windows of
        ``pred_cv`` labelled with a known class
        (:meth:`~tinyhar.postprocess.Rejection.calibrate`), on the
        classifier's probabilities, which the rejection tests also behind a
        posture correction (:class:`~tinyhar.postprocess.PostProcessor`,
        Notes); the smoothing is
        then chosen or fitted with that rejection in front of it. With
        ``posture`` set, every candidate has that
        :class:`~tinyhar.postprocess.posture.PostureCorrection`, fitted
        within each fold on the fold's training subjects (nested, so that its
        score is not optimistic) and finally on all given windows;
        ``posture: auto`` compares every method, none included
        (:func:`~tinyhar.postprocess.posture.posture_candidates`), with each
        smoothing candidate (or with the configured smoothing).
    n_folds : int
        Subject folds of the selection.
    streamable_only : bool
        ``auto`` considers only streamable candidates.
    ood_model : OodModel, optional
        The OOD model fitted on all training windows (stored in the spec);
        required when the rejection uses OOD scores.

    Returns
    -------
    spec : PostProcessor
        Fitted on all given windows.
    table : list of dict
        CV macro-F1 per candidate (for a fixed option: ``none`` and it).
    chosen_by : str
        How the spec was chosen, in words.

    Raises
    ------
    EvaluationError
        Fewer than 2 training subjects or no labelled window.
    """
    from tinyhar.postprocess import default_candidates, select_postprocess

    ok = ~pred_cv.invalid
    p = pred_cv.subset(ok)
    y, _ = scoring_labels(p)
    args = (p.proba, y, p.run_keys(), p.subject)
    smoothing = options.get("smoothing", "auto")
    params = {k: v for k, v in options.items()
              if k not in ("smoothing", "streamable_only", *REJECT_KEYS, *POSTURE_KEYS)}
    rejection = calibrate_rejection(p, y, options, ood_model, n_folds)
    postures = posture_candidates(p.classes, options.get("posture", "none"),
                                  options.get("posture_min_walking", DEFAULT_MIN_WALKING),
                                  p.gravity is not None,
                                  options.get("posture_context", DEFAULT_CONTEXT))
    posture = postures[0]
    kw = {"ood": p.ood if rejection.uses_ood else None,
          "gravity": (p.gravity if any(pc.active for pc in postures) or rejection.uses_posture
                      else None)}
    if smoothing == "auto":
        best, table = select_postprocess(
            *args, candidates=[c.with_rejection(rejection).with_posture(pc) for pc in postures
                               for c in default_candidates(p.classes, p.hop_s)],
            n_folds=n_folds, streamable_only=streamable_only, **kw,
        )
        chosen = (
            f"leave-subjects-out CV on the training subjects ({len(set(p.subject))} subjects, "
            f"{min(n_folds, len(set(p.subject)))} folds): best of {len(table)} options"
        )
        return best, table, chosen
    if len(postures) > 1:  # posture auto with a fixed smoothing: CV chooses the posture
        best, table = select_postprocess(
            *args, candidates=[PostProcessor(p.classes, smoothing=smoothing, rejection=rejection,
                                             posture=pc, **params) for pc in postures],
            n_folds=n_folds, **kw,
        )
        return best, table, "configured (postprocess.smoothing); posture by leave-subjects-out CV"
    spec = PostProcessor(p.classes, smoothing=smoothing, rejection=rejection, posture=posture,
                         **params)
    _, table = select_postprocess(
        *args, candidates=[PostProcessor(p.classes, rejection=rejection, posture=posture), spec],
        n_folds=n_folds, **kw,
    )
    spec.fit(p.proba, y, p.run_keys(), kw["ood"], kw["gravity"])
    return spec, table, "configured (postprocess.smoothing)"


def calibrate_rejection(
    pred_cv: StreamPredictions, y: np.ndarray, options: dict, ood_model: OodModel | None,
    n_folds: int = 5,
):
    """The :class:`~tinyhar.postprocess.Rejection` of ``options``, calibrated on training streams.

    Parameters
    ----------
    pred_cv : StreamPredictions
        Valid windows of the training subjects' streams with cross-validated
        probabilities (and OOD scores when the rejection uses them).
    y : numpy.ndarray of str, shape (n_windows,)
        Scored labels (:func:`scoring_labels`): windows labelled with a
        known class are the calibration set.
    options : dict
        ``postprocess:`` configuration (:data:`~tinyhar.postprocess.rejection.REJECT_KEYS`).
    ood_model : OodModel, optional
        Stored in the result (fitted on all training windows).
    n_folds : int
        Subject folds for the posture test (``reject_posture``): its
        :class:`~tinyhar.postprocess.rejection.PostureOodModel` is fitted on
        all given windows (stored) and, for the calibration scores, once per
        fold without the fold's subjects (nested).

    Returns
    -------
    Rejection
        Calibrated (or ``method "none"``).

    Raises
    ------
    ConfigError
        OOD rejection without an OOD model or OOD scores.
    EvaluationError
        No window of a known class.
    """
    rejection = rejection_from_options(options)
    if not rejection.active:
        return rejection
    known = np.asarray(y, dtype=object) != ""
    if rejection.uses_ood:
        if ood_model is None or pred_cv.ood is None:
            raise ConfigError(
                f"postprocess.reject {rejection.method!r} needs OOD scores of the model's "
                "hand-crafted features (tree models); use reject: probability for networks"
            )
        rejection.ood = ood_model
    ood = None if pred_cv.ood is None else pred_cv.ood[known]
    posture = None
    if rejection.uses_posture:
        posture = _posture_scores_cv(pred_cv, y, rejection, n_folds)[known]
    return rejection.calibrate(pred_cv.proba[known].max(axis=1), ood, posture)


def _posture_scores_cv(pred_cv: StreamPredictions, y: np.ndarray, rejection,
                       n_folds: int) -> np.ndarray:
    """Posture scores of the windows of ``pred_cv``, each from a
    :class:`~tinyhar.postprocess.rejection.PostureOodModel` fitted without its
    subject's fold; stores the model fitted on all windows in ``rejection``."""
    if pred_cv.gravity is None:
        raise ConfigError("postprocess.reject_posture needs each window's mean acceleration "
                          "(accelerometer channels acc_x, acc_y, acc_z)")
    lookup = {c: i for i, c in enumerate(pred_cv.classes)}
    idx = np.array([lookup.get(str(v), -1) for v in y], dtype=np.int64)
    runs = pred_cv.run_keys()
    args = (pred_cv.classes, pred_cv.proba, pred_cv.gravity)
    rejection.posture_model = PostureOodModel.fit(*args, idx, runs, rejection.min_walking)
    subjects = np.asarray(pred_cv.subject).astype(str)
    out = np.zeros(len(pred_cv))
    for train, test in group_kfold(subjects, min(n_folds, len(set(subjects)))):
        model = PostureOodModel.fit(pred_cv.classes, pred_cv.proba[train],
                                    pred_cv.gravity[train], idx[train], runs[train],
                                    rejection.min_walking)
        out[test] = model.score(pred_cv.proba[test], pred_cv.gravity[test], runs[test])
    return out


def fold_ood_models(
    features: np.ndarray,
    y: np.ndarray,
    subjects: np.ndarray,
    held_out: Sequence[set],
    classes: Sequence[str],
    var_floor: float,
) -> tuple[OodModel, dict[str, OodModel]]:
    """OOD models for calibration: one on all training windows, one per CV fold.

    Parameters
    ----------
    features : numpy.ndarray, shape (n_windows, n_features)
        Model input features of the training subjects' (pure) windows.
    y : numpy.ndarray of str, shape (n_windows,)
        Their class names.
    subjects : numpy.ndarray of str, shape (n_windows,)
    held_out : sequence of set of str
        Subjects held out by each cross-validation fold.
    classes : sequence of str
        The run's classes.
    var_floor : float
        :meth:`OodModel.fit` variance floor.

    Returns
    -------
    final : OodModel
        Fitted on all windows.
    by_subject : dict
        Subject -> the OOD model of the fold that held it out.
    """
    lookup = {c: i for i, c in enumerate(classes)}
    idx = np.array([lookup.get(str(v), -1) for v in y], dtype=np.int64)
    k = len(classes)
    final = OodModel.fit(features, idx, k, var_floor)
    subjects = np.asarray(subjects).astype(str)
    by_subject = {}
    for fold in held_out:
        keep = ~np.isin(subjects, sorted(map(str, fold)))
        model = OodModel.fit(features[keep], idx[keep], k, var_floor)
        by_subject.update({str(s): model for s in fold})
    return final, by_subject

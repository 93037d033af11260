"""The post-processing stage: smoothing -> minimum duration -> hysteresis, offline and streaming.

:class:`PostProcessor` is the fitted, serialisable specification of the
stage a run applies to its classifier's per-window probabilities (its
streaming form, :class:`PostProcessStream`, lives in
:mod:`tinyhar.postprocess.stream`);
:func:`select_postprocess` chooses it by leave-subjects-out cross-validation
on the training subjects.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import f1_score

from tinyhar.errors import ConfigError, EvaluationError
from tinyhar.postprocess.filters import (
    _check_alpha,
    _check_float,
    _check_int,
    _check_margin,
    check_proba,
    ema_filter,
    hysteresis,
    min_duration_causal,
    min_duration_merge,
    mode_filter,
)
from tinyhar.postprocess.hmm import ClassHMM, _session_indices
from tinyhar.postprocess.posture import POSTURE_KEYS, PostureCorrection
from tinyhar.postprocess.rejection import (
    REJECT_KEYS,
    UNKNOWN_CLASS,
    Rejection,
    add_unknown_state,
    extend_proba,
    rejection_from_options,
)
from tinyhar.postprocess.stream import PostProcessStream

FORMAT_VERSION = 1
"""Version of the :meth:`PostProcessor.to_dict` layout."""
SMOOTHING = ("none", "mode", "ema", "hmm")
"""Smoothing options."""
HMM_DECODERS = ("viterbi", "fixed_lag")
MIN_DURATION_RULES = ("causal", "merge")
_PARAMS = (
    "smoothing", "mode_k", "ema_alpha", "hmm_decoder", "hmm_lag", "hmm_smoothing",
    "min_duration", "min_duration_rule", "hysteresis_margin", "hysteresis_windows",
)


class PostProcessor:
    """Post-processing of per-window class probabilities, per session.

    First, each optional:

    a. rejection (:class:`~tinyhar.postprocess.rejection.Rejection`),
       decided on the classifier's probabilities (Notes: why before b): a
       window whose top probability is too low, whose OOD score is too high
       (or, with the posture test, whose tilt does not fit the posture it is
       called) is marked ``unknown``;
    b. (offline only) a posture correction
       (:class:`~tinyhar.postprocess.posture.PostureCorrection`) recalibrates
       the probabilities of every window (sitting vs standing, every class,
       or within the static and within the walking classes, by its method)
       from each window's tilt to the session's walking gravity direction (it
       needs each window's mean acceleration, ``gravity`` in :meth:`apply`).

    Then the stages, in order (each optional):

    0. a window rejected in (a) becomes class ``n_classes``
       (``"unknown"``) and enters the next stages as that class, with the
       one-hot probability row of
       :func:`~tinyhar.postprocess.rejection.extend_proba` (the HMM then has
       ``n_classes + 1`` states, see
       :func:`~tinyhar.postprocess.rejection.add_unknown_state`); the others
       keep their (corrected) probabilities;
    1. smoothing: ``"none"`` (argmax of the probabilities), ``"mode"``
       (centred majority filter over ``mode_k`` windows,
       :func:`~tinyhar.postprocess.filters.mode_filter`), ``"ema"``
       (exponential moving average with weight ``ema_alpha``,
       :func:`~tinyhar.postprocess.filters.ema_filter`) or ``"hmm"``
       (:class:`~tinyhar.postprocess.hmm.ClassHMM` learned by :meth:`fit`,
       decoded by ``"viterbi"`` (offline only) or ``"fixed_lag"`` with lag
       ``hmm_lag``);
    2. minimum segment duration ``min_duration`` windows (1 = off), rule
       ``"causal"`` (:func:`~tinyhar.postprocess.filters.min_duration_causal`,
       streamable) or ``"merge"``
       (:func:`~tinyhar.postprocess.filters.min_duration_merge`, offline
       only);
    3. hysteresis (:func:`~tinyhar.postprocess.filters.hysteresis`) with
       ``hysteresis_margin`` and ``hysteresis_windows`` (0 and 1 = off), on
       the probabilities of stage 1 (EMA values, HMM posteriors, else the
       classifier's).

    Parameters
    ----------
    classes : sequence of str
        Class names; index ``i`` of a probability row is ``classes[i]``.
    smoothing : {"none", "mode", "ema", "hmm"}
    mode_k : int >= 1
        Mode filter length (windows).
    ema_alpha : float in (0, 1]
    hmm_decoder : {"viterbi", "fixed_lag"}
    hmm_lag : int >= 0
        Fixed lag (windows) of online HMM decoding.
    hmm_smoothing : float in [0, 1e6]
        Additive smoothing count of :meth:`ClassHMM.fit`.
    min_duration : int >= 1
        Minimum segment duration (windows).
    min_duration_rule : {"causal", "merge"}
    hysteresis_margin : float in [0, 1]
    hysteresis_windows : int >= 1
    hmm : ClassHMM, optional
        A fitted model (set by :meth:`fit` or :meth:`from_dict`).
    rejection : Rejection, optional
        Unknown-activity rejection (default: none). Its thresholds are
        calibrated by the caller (:func:`tinyhar.evaluation.streams.select_on_streams`).
    posture : PostureCorrection, optional
        Sitting/standing correction (default: none); fitted by the caller
        (:func:`tinyhar.evaluation.streams.select_on_streams`) or by
        :meth:`fit` when not yet fitted.

    Raises
    ------
    ConfigError
        On an unknown option or an out-of-range value (the message names the
        ``postprocess.<key>``).

    Notes
    -----
    Streaming (:meth:`stream`) gives exactly the classes of :meth:`apply`
    whenever :attr:`streamable` is true (no Viterbi, no ``merge`` rule, no
    posture correction); its
    decisions come :attr:`lag` windows late.

    Why the rejection decides on the classifier's own probabilities, before
    the posture correction (which still corrects every window, rejected or
    not, and only the accepted windows keep its probabilities): (1) the
    correction is a regression fitted on windows of *known* classes; its
    output is confident also for an activity it never saw, so a top
    probability taken after it tells much less about unseen activities. On
    the HAPT test subjects (``python benchmarks/unknown.py
    --compare-orders``, acc + gyro, ``walking_reference_grouped_context``,
    both orders calibrated on what they test) rejecting after the correction
    lowers the AUROC of the top-probability test from 0.97 to 0.90 for the
    postural transitions (unseen windows rejected 81 % -> 36 %) and from 0.83
    to 0.70 for WALKING, and of ``both`` + posture test for WALKING from
    0.84 to 0.77; with ``reject: ood`` + posture test the two orders differ
    by at most 0.01. The price is small: of the known windows, between 1.9
    points fewer (WALKING_UPSTAIRS held out, top-probability test) and 2.5
    points more (LAYING held out) are accepted and right (a window the
    classifier finds unsure between sitting and standing may be rejected,
    where the correction would have decided it). (2) The thresholds are then calibrated on the
    cross-validated classifier probabilities, exactly what the rejection
    tests here, whatever the correction; the same rejection runs on the
    board, which has no correction. (3) The correction still sees every
    window's probabilities (the session's walking reference, the relative
    tilt, the context average). :meth:`fit` (the HMM's emissions),
    :meth:`apply`, :meth:`rejected` (``tinyhar predict``'s ``unknown``
    column, ``evaluate --continuous``) and the run folder all use this
    order; a ``postprocess.json`` stores no order, so a run trained before
    (whose thresholds were calibrated on uncorrected probabilities too) is
    now applied as it was calibrated.
    """

    def __init__(
        self,
        classes: Sequence[str],
        smoothing: str = "none",
        mode_k: int = 5,
        ema_alpha: float = 0.3,
        hmm_decoder: str = "fixed_lag",
        hmm_lag: int = 5,
        hmm_smoothing: float = 1.0,
        min_duration: int = 1,
        min_duration_rule: str = "causal",
        hysteresis_margin: float = 0.0,
        hysteresis_windows: int = 1,
        hmm: ClassHMM | None = None,
        rejection: Rejection | None = None,
        posture: PostureCorrection | None = None,
    ) -> None:
        self.classes = [str(c) for c in classes]
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise ConfigError(
                f"postprocess needs >= 2 distinct class names, got {self.classes}"
            )
        for key, value, options in (
            ("smoothing", smoothing, SMOOTHING),
            ("hmm_decoder", hmm_decoder, HMM_DECODERS),
            ("min_duration_rule", min_duration_rule, MIN_DURATION_RULES),
        ):
            if value not in options:
                raise ConfigError(
                    f"postprocess.{key} must be one of {list(options)}, got {value!r}"
                )
        self.smoothing = smoothing
        self.mode_k = _check_int(mode_k, "mode_k", 1)
        self.ema_alpha = _check_alpha(ema_alpha)
        self.hmm_decoder = hmm_decoder
        self.hmm_lag = _check_int(hmm_lag, "hmm_lag", 0)
        self.hmm_smoothing = _check_float(hmm_smoothing, "hmm_smoothing", 0.0, 1e6, False)
        self.min_duration = _check_int(min_duration, "min_duration", 1)
        self.min_duration_rule = min_duration_rule
        self.hysteresis_margin = _check_margin(hysteresis_margin)
        self.hysteresis_windows = _check_int(hysteresis_windows, "hysteresis_windows", 1)
        self.rejection = rejection if rejection is not None else Rejection()
        self.posture = posture if posture is not None else PostureCorrection(self.classes)
        if self.posture.classes != self.classes:
            raise ConfigError(f"postprocess.posture is for classes {self.posture.classes}, "
                              f"the post-processing for {self.classes}")
        if hmm is not None and hmm.n_classes != self.n_out:
            raise ConfigError(
                f"postprocess.hmm has {hmm.n_classes} states, the post-processing "
                f"{self.n_out} ({self.out_classes})"
            )
        self.hmm = hmm

    # ------------------------------------------------------------------ description

    def params(self) -> dict:
        """The options (no fitted state), as keyword arguments of the constructor."""
        return {k: getattr(self, k) for k in _PARAMS}

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def n_out(self) -> int:
        """Number of output classes: ``n_classes``, plus 1 (unknown) with rejection."""
        return self.n_classes + int(self.rejection.active)

    @property
    def out_classes(self) -> list[str]:
        """Output class names (index = output class index; ``"unknown"`` last with rejection)."""
        return self.classes + ([UNKNOWN_CLASS] if self.rejection.active else [])

    @property
    def ood_model(self):
        """The :class:`~tinyhar.postprocess.rejection.OodModel` whose scores :meth:`apply` needs.

        None when the rejection does not use OOD scores.
        """
        return self.rejection.ood if self.rejection.uses_ood else None

    @property
    def streamable(self) -> bool:
        """True when :meth:`stream` reproduces :meth:`apply` (no Viterbi, no merge rule,
        no posture correction, no posture test in the rejection: these need whole sessions)."""
        viterbi = self.smoothing == "hmm" and self.hmm_decoder == "viterbi"
        merge = self.min_duration > 1 and self.min_duration_rule == "merge"
        return not (viterbi or merge or self.posture.active or not self.rejection.streamable)

    @property
    def lag(self) -> int:
        """Total streaming delay in windows (smoothing + minimum duration; hysteresis adds 0)."""
        lag = self.min_duration - 1
        if self.smoothing == "mode":
            lag += self.mode_k // 2
        elif self.smoothing == "hmm":
            lag += self.hmm_lag
        return lag

    @property
    def needs_fit(self) -> bool:
        """True when :meth:`fit` must run before :meth:`apply` (HMM without a model, or
        an unfitted posture correction)."""
        return (self.smoothing == "hmm" and self.hmm is None) or not self.posture.fitted

    def describe(self) -> str:
        """Short name for tables, e.g. ``"hmm(fixed_lag=5)+min_duration(3,causal)"``."""
        parts = {
            "none": "none",
            "mode": f"mode(k={self.mode_k})",
            "ema": f"ema(alpha={self.ema_alpha:g})",
            "hmm": ("hmm(viterbi)" if self.hmm_decoder == "viterbi"
                    else f"hmm(fixed_lag={self.hmm_lag})"),
        }
        text = parts[self.smoothing]
        if self.rejection.active:
            text = f"{self.rejection.describe()}+{text}"
        if self.posture.active:
            text = f"{self.posture.describe()}+{text}"
        if self.min_duration > 1:
            text += f"+min_duration({self.min_duration},{self.min_duration_rule})"
        if self.hysteresis_margin > 0 or self.hysteresis_windows > 1:
            text += f"+hysteresis({self.hysteresis_margin:g},{self.hysteresis_windows})"
        return text

    def __repr__(self) -> str:
        return f"PostProcessor({self.describe()}, classes={self.classes})"

    # ------------------------------------------------------------------ fit / apply

    def _label_indices(self, y: np.ndarray) -> np.ndarray:
        lookup = {c: i for i, c in enumerate(self.out_classes)}
        out = np.full(len(y), -1, dtype=np.int64)
        for i, v in enumerate(np.asarray(y, dtype=object)):
            if v is None or v == "" or (isinstance(v, float) and np.isnan(v)):
                continue
            if str(v) not in lookup:
                raise EvaluationError(
                    f"label {v!r} is not one of the post-processor's classes {self.out_classes}"
                )
            out[i] = lookup[str(v)]
        return out

    def fit(
        self,
        proba_cv: np.ndarray,
        y: np.ndarray,
        sessions: np.ndarray,
        ood: np.ndarray | None = None,
        gravity: np.ndarray | None = None,
    ) -> PostProcessor:
        """Learn what the options need from training windows (the posture correction when
        not yet fitted, then the HMM; others: nothing).

        Parameters
        ----------
        proba_cv : numpy.ndarray, shape (n_windows, n_classes)
            Cross-validated (leave-subjects-out) probabilities of the training
            windows.
        y : numpy.ndarray of str, shape (n_windows,)
            True class names; ``""`` or ``None`` = unlabelled (skipped).
        sessions : numpy.ndarray, shape (n_windows,)
            Session id per window (windows of a session in time order).
        ood : numpy.ndarray, shape (n_windows,), optional
            Cross-validated OOD scores (needed when the rejection uses them).
        gravity : numpy.ndarray, shape (n_windows, 3), optional
            Mean acceleration of each window in g (needed with a posture
            correction).

        Returns
        -------
        PostProcessor
            ``self``, fitted.

        Raises
        ------
        EvaluationError
            If labels are not among :attr:`classes` or lengths disagree.
        """
        p = self._check_proba(proba_cv)
        if not self.posture.fitted:
            self.posture.fit(p, gravity, y, sessions)
        p = self._extended(p, ood, gravity, sessions)
        if self.smoothing == "hmm":
            y_idx = self._label_indices(y)
            if not self.rejection.active:
                self.hmm = ClassHMM.fit(p, y_idx, sessions, self.hmm_smoothing)
                return self
            # the unknown state may have no labelled window: a tiny count keeps the fit
            # defined with hmm_smoothing 0; add_unknown_state then sets that state
            hmm = ClassHMM.fit(p, y_idx, sessions, max(self.hmm_smoothing, 1e-9))
            self.hmm = ClassHMM(*add_unknown_state(
                hmm.startprob, hmm.transmat, hmm.emissionprob,
                int(np.count_nonzero(y_idx == self.n_classes)),
            ))
        return self

    def _extended(self, p: np.ndarray, ood: np.ndarray | None,
                  gravity: np.ndarray | None = None,
                  sessions: np.ndarray | None = None) -> np.ndarray:
        """The rows the smoothing sees: the probabilities after the posture correction
        (when active); with rejection ``(n, n_classes + 1)``, the windows rejected on the
        classifier's probabilities (:meth:`rejected`) as the one-hot ``unknown`` row."""
        q = self.posture.correct(p, gravity, sessions) if self.posture.active else p
        if not self.rejection.active:
            return q
        return extend_proba(q, self.rejection.reject(p, ood, gravity, sessions))

    def _check_proba(self, proba: np.ndarray) -> np.ndarray:
        p = check_proba(proba)
        if p.shape[1] != self.n_classes:
            raise ConfigError(
                f"probabilities have {p.shape[1]} classes, the post-processor has "
                f"{self.n_classes} classes ({self.classes}): use the run's own classifier"
            )
        return p

    def apply(
        self,
        proba: np.ndarray,
        sessions: np.ndarray | None = None,
        ood: np.ndarray | None = None,
        gravity: np.ndarray | None = None,
    ) -> np.ndarray:
        """Post-process the probabilities of whole sessions (offline).

        Parameters
        ----------
        proba : numpy.ndarray, shape (n_windows, n_classes)
            Class probabilities per window, in time order within each session.
        sessions : numpy.ndarray, shape (n_windows,), optional
            Session id per window (default: one session). Each session is
            processed on its own; sessions need not be contiguous.
        ood : numpy.ndarray, shape (n_windows,), optional
            OOD scores (:meth:`~tinyhar.postprocess.rejection.OodModel.score`);
            needed when the rejection uses them.
        gravity : numpy.ndarray, shape (n_windows, 3), optional
            Mean acceleration of each window in g; needed with a posture
            correction or the rejection's posture test.

        Returns
        -------
        numpy.ndarray of int64, shape (n_windows,)
            Class index per window (``out_classes[i]`` for names: index
            ``n_classes`` is ``"unknown"``).

        Raises
        ------
        ConfigError
            If the HMM or the rejection is not fitted or the inputs do not fit.
        """
        p = self._check_proba(proba)
        if self.needs_fit:
            raise ConfigError("postprocess: the HMM or the posture correction is not fitted: "
                              "call fit")
        out = np.empty(p.shape[0], dtype=np.int64)
        if sessions is None:
            groups = [np.arange(p.shape[0])]
        else:
            sessions = np.asarray(sessions)
            if sessions.shape != (p.shape[0],):
                raise ConfigError(f"{sessions.size} session ids for {p.shape[0]} windows")
            groups = _session_indices(sessions)
        p = self._extended(p, ood, gravity, sessions)
        for idx in groups:
            out[idx] = self._apply_session(p[idx])
        return out

    def apply_labels(
        self, proba: np.ndarray, sessions: np.ndarray | None = None, ood: np.ndarray | None = None,
        gravity: np.ndarray | None = None,
    ) -> np.ndarray:
        """:meth:`apply`, as class names (object array, shape (n_windows,))."""
        return np.asarray(self.out_classes, dtype=object)[
            self.apply(proba, sessions, ood, gravity)]

    def rejected(
        self, proba: np.ndarray, sessions: np.ndarray | None = None, ood: np.ndarray | None = None,
        gravity: np.ndarray | None = None,
    ) -> np.ndarray:
        """Windows the rejection marks ``unknown`` before smoothing, as :meth:`apply` does.

        The rejection tests the classifier's probabilities, before the
        posture correction (class docstring: why), so a window is rejected
        here exactly when :meth:`apply` feeds it to the smoothing as
        ``unknown``.

        Parameters
        ----------
        proba, sessions, ood, gravity
            As :meth:`apply`.

        Returns
        -------
        numpy.ndarray of bool, shape (n_windows,)
            All false without rejection.

        Raises
        ------
        ConfigError
            The rejection is not calibrated, or the inputs do not fit.
        """
        p = self._check_proba(proba)
        if not self.rejection.active:
            return np.zeros(p.shape[0], dtype=bool)
        if sessions is not None and np.shape(sessions) != (p.shape[0],):
            raise ConfigError(f"{np.size(sessions)} session ids for {p.shape[0]} windows")
        return self.rejection.reject(p, ood, gravity, sessions)

    def _apply_session(self, p: np.ndarray) -> np.ndarray:
        if p.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        if self.smoothing == "none":
            q, c = p, np.argmax(p, axis=1)
        elif self.smoothing == "mode":
            q, c = p, mode_filter(np.argmax(p, axis=1), self.mode_k, self.n_out)
        elif self.smoothing == "ema":
            q = ema_filter(p, self.ema_alpha)
            c = np.argmax(q, axis=1)
        elif self.hmm_decoder == "viterbi":
            obs = np.argmax(p, axis=1)
            q, c = self.hmm.posteriors(obs), self.hmm.viterbi(obs)
        else:
            c, q = self.hmm.fixed_lag(np.argmax(p, axis=1), self.hmm_lag)
        if self.min_duration > 1:
            if self.min_duration_rule == "merge":
                c = min_duration_merge(c, self.min_duration, q)
            else:
                c = min_duration_causal(c, self.min_duration)
        if self.hysteresis_margin > 0 or self.hysteresis_windows > 1:
            c = hysteresis(c, q, self.hysteresis_margin, self.hysteresis_windows)
        return c

    def stream(self) -> PostProcessStream:
        """A streaming post-processor for one session at a time.

        Raises
        ------
        ConfigError
            If the options are not streamable (Viterbi or the merge rule) or
            the HMM is not fitted.
        """
        return PostProcessStream(self)

    # ------------------------------------------------------------------ state

    def to_dict(self) -> dict:
        """JSON-able specification and fitted state.

        Returns
        -------
        dict
            ``{"format_version": 1, "classes": [...], <options>, "hmm": null or
            {"startprob", "transmat", "emissionprob"} as nested lists,
            "rejection": {...}}`` (:meth:`Rejection.to_dict
            <tinyhar.postprocess.rejection.Rejection.to_dict>`).
        """
        return {
            "format_version": FORMAT_VERSION,
            "classes": list(self.classes),
            **self.params(),
            "hmm": None if self.hmm is None else self.hmm.to_dict(),
            "rejection": self.rejection.to_dict(),
            "posture": self.posture.to_dict(),
        }

    @classmethod
    def from_dict(cls, state: dict, classes: Sequence[str] | None = None) -> PostProcessor:
        """Rebuild from :meth:`to_dict` output, or from a ``postprocess:`` config mapping.

        Options missing from ``state`` take their defaults; ``format_version``
        and ``hmm`` are optional (an unfitted spec), and so is ``classes``
        when given as an argument (a configuration names options only). The
        configuration's rejection keys (``reject``, ``false_rejection``,
        ``ood_var_floor``) give an uncalibrated rejection.

        Parameters
        ----------
        state : dict
            :meth:`to_dict` output or a subset of the options.
        classes : sequence of str, optional
            The run's classes; must equal ``state["classes"]`` when both are
            given.

        Returns
        -------
        PostProcessor

        Raises
        ------
        ConfigError
            Unknown keys, an unsupported ``format_version``, missing or
            disagreeing ``classes`` or invalid values (the message names the
            key).
        """
        if not isinstance(state, dict):
            raise ConfigError(f"postprocess must be a mapping, got {type(state).__name__}")
        version = state.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ConfigError(
                f"postprocess.format_version {version!r} is not supported (this tinyhar reads "
                f"{FORMAT_VERSION}); re-create the run with this version"
            )
        unknown = sorted(
            set(state) - set(_PARAMS) - set(REJECT_KEYS)
            - {"format_version", "classes", "hmm", "rejection", *POSTURE_KEYS}
        )
        if unknown:
            raise ConfigError(
                f"postprocess has unknown keys {unknown}; allowed: {sorted(_PARAMS)}"
            )
        if classes is not None and "classes" in state and list(state["classes"]) != list(
            map(str, classes)
        ):
            raise ConfigError(
                f"postprocess.classes {state['classes']} differ from the run's classes "
                f"{list(classes)}"
            )
        classes = state.get("classes", classes)
        if classes is None:
            raise ConfigError("postprocess.classes is missing")
        hmm = state.get("hmm")
        rejection = state.get("rejection")
        if rejection is None and any(k in state for k in REJECT_KEYS):
            rejection = rejection_from_options(state).to_dict()
        posture = state.get("posture")
        if isinstance(posture, str):
            posture = {"method": posture}
        for key, name in (("posture_min_walking", "min_walking"), ("posture_context", "context")):
            if posture is not None and key in state:
                posture = {**posture, name: state[key]}
        return cls(
            classes,
            hmm=None if hmm is None else ClassHMM.from_dict(hmm),
            rejection=None if rejection is None else Rejection.from_dict(rejection),
            posture=None if posture is None else PostureCorrection.from_dict(posture, classes),
            **{k: state[k] for k in _PARAMS if k in state},
        )

    def unfitted(self) -> PostProcessor:
        """A copy with the same options, rejection and posture correction (shared when
        fitted, else a new unfitted one), and no fitted HMM."""
        return PostProcessor(self.classes, rejection=self.rejection, posture=self._posture(),
                             **self.params())

    def _posture(self) -> PostureCorrection:
        """The posture correction to share with a copy (a fresh one while unfitted)."""
        return self.posture if self.posture.fitted else self.posture.unfitted()

    def with_rejection(self, rejection: Rejection) -> PostProcessor:
        """An unfitted copy with another rejection (for :func:`select_postprocess`)."""
        return PostProcessor(self.classes, rejection=rejection, posture=self._posture(),
                             **self.params())

    def with_posture(self, posture: PostureCorrection) -> PostProcessor:
        """An unfitted copy with another (fitted) posture correction."""
        return PostProcessor(self.classes, rejection=self.rejection, posture=posture,
                             **self.params())


# ----------------------------------------------------------------------------- selection


REFERENCE_HOP_S = 1.28
"""Hop (s) the spans of :func:`default_candidates` are written for (HAPT's default 2.56 s
windows at 50 % overlap): at this hop the spans are whole windows."""
MODE_SPANS_S = (3.84, 6.4, 8.96, 11.52, 14.08, 16.64)
"""Mode filter lengths of :func:`default_candidates`, in s (3 to 13 windows at a 1.28 s hop)."""
EMA_ALPHAS = (0.5, 0.3, 0.2)
"""EMA weights of :func:`default_candidates` at :data:`REFERENCE_HOP_S`."""
HMM_LAGS_S = (0.0, 2.56, 6.4, 12.8)
"""HMM fixed lags of :func:`default_candidates`, in s (0, 2, 5 and 10 windows at 1.28 s)."""
MIN_DURATION_S = 3.84
"""Minimum segment duration of the combined candidates, in s (3 windows at 1.28 s)."""


def _windows(span_s: float, hop_s: float, odd: bool = False) -> int:
    """``span_s`` in whole windows at ``hop_s`` (at least 1; the next odd number if ``odd``)."""
    n = max(1, int(round(span_s / hop_s)))
    return n + 1 if odd and n % 2 == 0 else n


def default_candidates(classes: Sequence[str], hop_s: float | None = None) -> list[PostProcessor]:
    """The post-processing options :func:`select_postprocess` compares by default.

    Spans are set in seconds and converted to windows at the stream's hop
    (``hop_s``), so that a stream with a shorter hop gets proportionally
    longer filters. At the reference hop of 1.28 s (2.56 s windows, 50 %
    overlap) the candidates are: ``none``; mode filter over 3, 5, 7, 9, 11
    and 13 windows; EMA with alpha 0.5, 0.3, 0.2; HMM with fixed lag 0, 2, 5
    and 10 windows and Viterbi; mode filter over 7, 9 and 11 windows and HMM
    (lag 5) each followed by a causal minimum duration of 3 windows; mode
    filter over 9 windows followed by the ``merge`` minimum duration of 5
    windows. Mode lengths are rounded to odd numbers (centred filter); an
    EMA weight ``a`` becomes ``1 - (1 - a) ** (hop_s / 1.28)`` (the same
    decay per second). All are streamable except Viterbi and ``merge``.

    The grid was widened from 14 options (mode up to 9 windows, no lag 10, a
    single mode + minimum duration) after measuring on the HAPT training
    subjects' cross-validated streams that longer filters and minimum
    durations win there (see the README, "Continuous recognition").

    Parameters
    ----------
    classes : sequence of str
    hop_s : float > 0, optional
        Stream hop in s (default :data:`REFERENCE_HOP_S`).

    Returns
    -------
    list of PostProcessor
        Unfitted specs, simplest first (ties in score keep the earlier);
        options that coincide at this hop are listed once.

    Raises
    ------
    ConfigError
        If ``hop_s`` is not a finite number > 0.
    """
    h = REFERENCE_HOP_S if hop_s is None else _check_float(hop_s, "hop_s", 0.0, 1e6, True)
    c = list(classes)
    md = _windows(MIN_DURATION_S, h)
    mode = [_windows(s, h, odd=True) for s in MODE_SPANS_S]
    lag5 = _windows(6.4, h)
    out = [PostProcessor(c)]
    out += [PostProcessor(c, smoothing="mode", mode_k=k) for k in mode]
    out += [PostProcessor(c, smoothing="ema", ema_alpha=1.0 - (1.0 - a) ** (h / REFERENCE_HOP_S))
            for a in EMA_ALPHAS]
    out += [PostProcessor(c, smoothing="hmm", hmm_lag=_windows(s, h) if s else 0)
            for s in HMM_LAGS_S]
    out += [PostProcessor(c, smoothing="hmm", hmm_decoder="viterbi")]
    out += [PostProcessor(c, smoothing="mode", mode_k=k, min_duration=md) for k in mode[2:5]]
    out += [
        PostProcessor(c, smoothing="hmm", hmm_lag=lag5, min_duration=md),
        PostProcessor(c, smoothing="mode", mode_k=mode[3], min_duration=_windows(6.4, h),
                      min_duration_rule="merge"),
    ]
    unique: dict[str, PostProcessor] = {}
    for spec in out:
        unique.setdefault(spec.describe(), spec)
    return list(unique.values())


def select_postprocess(
    proba_cv: np.ndarray,
    y: np.ndarray,
    sessions: np.ndarray,
    subjects: np.ndarray,
    candidates: Sequence[PostProcessor] | None = None,
    classes: Sequence[str] | None = None,
    n_folds: int = 5,
    streamable_only: bool = False,
    ood: np.ndarray | None = None,
    gravity: np.ndarray | None = None,
) -> tuple[PostProcessor, list[dict]]:
    """Choose post-processing by leave-subjects-out cross-validation on training subjects.

    For each fold of :func:`tinyhar.evaluation.splits.group_kfold`-style
    subject groups (scikit-learn ``GroupKFold``), each candidate is fitted
    (HMM) on the other subjects' windows and applied to the held-out
    subjects' sessions; its score is the per-window macro-F1 (over the
    classes present in the labels) of the pooled held-out predictions,
    scored on labelled windows only. The best candidate (the earliest on
    ties) is refitted on all given windows and returned. (The HMM emissions
    of a fold are estimated from ``proba_cv`` rows of the fold's training
    subjects, which come from the caller's own cross-validation.)

    Only the data passed in is used: pass the *training* subjects' windows
    and their cross-validated probabilities. Test subjects must never be
    passed, so that the chosen post-processing is not tuned on them.

    Parameters
    ----------
    proba_cv : numpy.ndarray, shape (n_windows, n_classes)
        Cross-validated (leave-subjects-out) probabilities of the training
        windows.
    y : numpy.ndarray of str, shape (n_windows,)
        True class names (``""``/``None`` = unlabelled: passed through the
        smoothers, not scored).
    sessions, subjects : numpy.ndarray, shape (n_windows,)
        Session and subject id per window (windows of a session in time
        order; a session belongs to one subject).
    candidates : sequence of PostProcessor, optional
        Specs to compare (default :func:`default_candidates`); their fitted
        state is ignored.
    classes : sequence of str, optional
        Class names (default: those of the first candidate; required when
        ``candidates`` is None).
    n_folds : int >= 2
        Number of subject folds (reduced to the number of subjects).
    streamable_only : bool
        Skip candidates that cannot stream (for device deployment).
    ood : numpy.ndarray, shape (n_windows,), optional
        Cross-validated OOD scores, for candidates whose (already
        calibrated) rejection uses them. Windows a candidate rejects count
        as wrong for their true class.
    gravity : numpy.ndarray, shape (n_windows, 3), optional
        Mean acceleration of each window in g, for candidates with an
        (already fitted) posture correction.

    Returns
    -------
    best : PostProcessor
        The chosen spec, fitted on all given windows.
    table : list of dict
        One row per candidate: ``postprocess`` (description), ``macro_f1``,
        ``spec`` (its :meth:`PostProcessor.to_dict` without fitted state).

    Raises
    ------
    EvaluationError
        Fewer than 2 subjects, disagreeing lengths, or no labelled window.
    ConfigError
        No candidate (left).
    """
    from sklearn.model_selection import GroupKFold

    if candidates is None:
        if classes is None:
            raise ConfigError("select_postprocess needs classes when no candidates are given")
        candidates = default_candidates(classes)
    candidates = [c.unfitted() for c in candidates if c.streamable or not streamable_only]
    if not candidates:
        raise ConfigError("select_postprocess: no candidate post-processing to compare")
    spec0 = candidates[0]
    p = spec0._check_proba(proba_cv)
    n = p.shape[0]
    sessions = np.asarray(sessions)
    subjects = np.asarray(subjects)
    y = np.asarray(y, dtype=object)
    if not (len(y) == len(sessions) == len(subjects) == n):
        raise EvaluationError(
            f"select_postprocess: {n} probability rows, {len(y)} labels, {len(sessions)} "
            f"sessions, {len(subjects)} subjects"
        )
    distinct = np.unique(subjects.astype(str))
    if distinct.size < 2:
        raise EvaluationError(
            "select_postprocess needs windows of at least 2 training subjects "
            f"(leave-subjects-out), got {distinct.size}"
        )
    y_idx = spec0._label_indices(y)
    if not (y_idx >= 0).any():
        raise EvaluationError("select_postprocess: no labelled window to score")
    k = min(_check_int(n_folds, "n_folds", 2), distinct.size)
    folds = list(GroupKFold(n_splits=k).split(np.zeros(n), groups=subjects.astype(str)))
    scored = y_idx >= 0
    present = np.unique(y_idx[scored])
    table = []
    best_i, best_score = 0, -1.0
    for i, cand in enumerate(candidates):
        pred = np.full(n, -1, dtype=np.int64)
        for train, test in folds:
            spec = cand.unfitted()
            o_tr, o_te = (None, None) if ood is None else (ood[train], ood[test])
            g_tr, g_te = (None, None) if gravity is None else (gravity[train], gravity[test])
            if spec.needs_fit:
                spec.fit(p[train], y[train], sessions[train], o_tr, g_tr)
            pred[test] = spec.apply(p[test], sessions[test], o_te, g_te)
        score = float(
            f1_score(y_idx[scored], pred[scored], labels=present, average="macro",
                     zero_division=0)
        )
        spec_dict = cand.to_dict()
        spec_dict.pop("hmm")
        spec_dict.pop("rejection")
        spec_dict.pop("posture")
        table.append({"postprocess": cand.describe(), "macro_f1": score, "spec": spec_dict})
        if score > best_score:
            best_i, best_score = i, score
    best = candidates[best_i].unfitted().fit(p, y, sessions, ood, gravity)
    return best, table


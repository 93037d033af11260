"""Unknown activity: rejecting windows by their top probability and an out-of-distribution score.

A classifier of ``K`` known activities puts every window into one of them,
also a window of an activity it never saw. :class:`Rejection` marks such a
window ``unknown`` (class index ``K``, label :data:`UNKNOWN_CLASS`) when

(a) its top class probability is below ``proba_threshold`` (the classifier
    is unsure; maximum-softmax-probability baseline, Hendrycks & Gimpel
    2017), or
(b) its out-of-distribution score in feature space is above
    ``ood_threshold``.

The OOD score (:class:`OodModel`) is the diagonal Mahalanobis distance of the
model's input features ``x`` (shape ``(n_features,)``) to the nearest class::

    score(x) = min_c  sum_j (x_j - mean[c, j])**2 * inv_var[c, j]

with per-class means and inverse variances of the training windows (a
class-conditional Gaussian with diagonal covariance, as in the Mahalanobis
OOD detector of Lee et al. 2018, diagonal so that a microcontroller needs
``2 * n_classes * n_features`` numbers and as many multiply-adds). Each
variance is floored at ``var_floor`` times the feature's variance over all
training windows, so that a feature nearly constant within one class (e.g. a
gravity component while lying) cannot dominate the sum; a feature constant
over all training windows gets ``inv_var = 0`` (ignored).

Both thresholds are calibrated on the *training* subjects only: on
cross-validated (leave-subjects-out) probabilities and OOD scores of windows
of known classes, so that a stated fraction ``false_rejection`` (default
5 %) of them is rejected (:meth:`Rejection.calibrate`). With ``method
"both"`` the two thresholds are set at the same per-test rate ``r`` chosen
so that their union rejects ``false_rejection`` (with the posture test
too, it takes the rate ``r * posture_share``). The rejection tests the
classifier's own probabilities, also when the post-processing has a posture
correction (which comes after it: :class:`tinyhar.postprocess.PostProcessor`
says why), so the calibration sees what the rejection tests.

Downstream, a rejected window enters the smoothing filters as its own class:
:func:`extend_proba` turns the ``(n_windows, K)`` probabilities into
``(n_windows, K + 1)`` rows, ``[p, 0]`` for an accepted window and the
one-hot row of class ``K`` for a rejected one (see
:class:`tinyhar.postprocess.PostProcessor`).

(c) optionally (``posture``, offline only), its *posture* score is above
    ``posture_threshold``: for a window whose top class is sitting or
    standing, the distance of its walking-referenced tilt to that class's
    tilt to the session's walking gravity (:class:`PostureOodModel`). In
    feature space a held-out sitting
    window looks like standing and vice versa (the two differ only by a few
    degrees of pelvis tilt, which the absolute gravity features cannot tell
    from a person's way of wearing the sensor); referenced to the same
    session's walking the tilt can. The test is given the
    share ``posture_share`` of the per-test rate (its threshold is the
    ``1 - r * posture_share`` quantile), a ratio chosen by the training
    subjects' cross-validation in ``benchmarks/unknown.py``. The reference
    is a whole-session statistic, so a rejection with it is not streamable
    and has no device export (like the posture correction,
    :mod:`tinyhar.postprocess.posture`).

Device contract (C and MicroPython implement the same): parameters
``ood_means`` and ``ood_inv_var`` of shape ``(n_classes, n_features)``,
``ood_threshold`` and ``proba_threshold`` (``None``/JSON ``null`` = that
test is off); a window is unknown when ``max(p) < proba_threshold`` or
``score(x) > ood_threshold`` (strict comparisons).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyhar.errors import ConfigError, EvaluationError
from tinyhar.postprocess.filters import _check_float, _check_int, check_proba
from tinyhar.postprocess.posture import DEFAULT_MIN_WALKING, class_roles, tilt_angles

UNKNOWN_CLASS = "unknown"
"""Label of rejected windows (class index ``n_classes``)."""
REJECT_METHODS = ("none", "probability", "ood", "both")
"""``postprocess.reject`` options."""
DEFAULT_FALSE_REJECTION = 0.05
"""Default fraction of known-activity windows the calibration lets be rejected."""
DEFAULT_VAR_FLOOR = 0.1
"""Default variance floor of :class:`OodModel`, as a fraction of each feature's overall variance."""
UNKNOWN_EMIT = 0.5
"""Probability that an unknown activity's window is observed as ``unknown`` (HMM, see
:func:`add_unknown_state`)."""


DEFAULT_POSTURE_SHARE = 0.125
"""Default share of the per-test rejection rate given to the posture test (``reject_posture``).

Chosen by the nested leave-subjects-out CV on the HAPT training subjects only
(``python benchmarks/unknown.py --cv``: shares 1/16, 1/8, 1/4, 1/2 and 1 with
``reject: ood``): 1/8 has the largest smallest AUROC over the seven held-out
activities (0.825, WALKING; SITTING 0.869, STANDING 0.866). A larger share
separates held-out postures better (1/4: 0.897 and 0.897) at the expense of
the walking activities (WALKING 0.811)."""
POSTURE_SD_FLOOR = 1.0
"""Degrees added to each class's tilt standard deviation in :class:`PostureOodModel`."""


REJECT_KEYS = ("reject", "false_rejection", "ood_var_floor", "reject_posture",
               "reject_posture_share")
"""The ``postprocess:`` configuration keys of the rejection (:func:`rejection_from_options`)."""


def rejection_from_options(options: dict) -> Rejection:
    """The (uncalibrated) :class:`Rejection` a ``postprocess:`` mapping describes.

    Parameters
    ----------
    options : dict
        ``postprocess:`` configuration; reads ``reject`` (default
        ``"none"``), ``false_rejection``, ``ood_var_floor``,
        ``reject_posture`` (default false), ``reject_posture_share`` and
        ``posture_min_walking``.

    Raises
    ------
    ConfigError
        Invalid values (named).
    """
    return Rejection(
        options.get("reject", "none"),
        options.get("false_rejection", DEFAULT_FALSE_REJECTION),
        options.get("ood_var_floor", DEFAULT_VAR_FLOOR),
        posture=options.get("reject_posture", False),
        posture_share=options.get("reject_posture_share", DEFAULT_POSTURE_SHARE),
        min_walking=options.get("posture_min_walking", DEFAULT_MIN_WALKING),
    )


def _features(x: object, n_features: int | None = None) -> np.ndarray:
    f = np.asarray(x, dtype=np.float64)
    if f.ndim != 2:
        raise EvaluationError(f"features must have shape (n_windows, n_features), got {f.shape}")
    if n_features is not None and f.shape[1] != n_features:
        raise EvaluationError(
            f"features have {f.shape[1]} columns, the OOD model was fitted on {n_features}: "
            "use the run's own pipeline"
        )
    return f


class OodModel:
    """Per-class diagonal Gaussian of the input features; score = distance to the nearest class.

    Parameters
    ----------
    means : array-like, shape (n_classes, n_features)
        Class means of the features (feature units).
    inv_var : array-like, shape (n_classes, n_features)
        Inverse (floored) class variances; 0 = feature ignored.

    Raises
    ------
    ConfigError
        Shapes that differ, non-finite values or negative inverse variances.
    """

    def __init__(self, means: object, inv_var: object) -> None:
        m = np.asarray(means, dtype=np.float64)
        iv = np.asarray(inv_var, dtype=np.float64)
        if m.ndim != 2 or iv.shape != m.shape or m.shape[0] < 1:
            raise ConfigError(
                f"postprocess.rejection: ood_means {m.shape} and ood_inv_var {iv.shape} must "
                "both have shape (n_classes, n_features)"
            )
        if not (np.all(np.isfinite(m)) and np.all(np.isfinite(iv)) and np.all(iv >= 0)):
            raise ConfigError(
                "postprocess.rejection: ood_means and ood_inv_var must be finite, inv_var >= 0"
            )
        self.means = m
        self.inv_var = iv

    @property
    def n_features(self) -> int:
        """Number of input features."""
        return int(self.means.shape[1])

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        y: np.ndarray,
        n_classes: int,
        var_floor: float = DEFAULT_VAR_FLOOR,
    ) -> OodModel:
        """Class means and floored inverse variances of training windows.

        Parameters
        ----------
        features : numpy.ndarray, shape (n_windows, n_features)
            The model's input features of the training windows.
        y : numpy.ndarray of int, shape (n_windows,)
            True class index 0..n_classes-1; -1 = unlabelled (ignored).
        n_classes : int
        var_floor : float in [0, 1e6]
            Variance floor as a fraction of each feature's variance over all
            labelled windows (module docstring).

        Returns
        -------
        OodModel
            A class without windows gets the overall mean and variance.

        Raises
        ------
        EvaluationError
            No labelled window, or lengths that differ.
        """
        f = _features(features)
        y = np.asarray(y, dtype=np.int64)
        if y.shape != (f.shape[0],):
            raise EvaluationError(f"OOD fit: {f.shape[0]} feature rows, {y.size} labels")
        floor = _check_float(var_floor, "ood_var_floor", 0.0, 1e6, False)
        lab = (y >= 0) & (y < n_classes)
        if not lab.any():
            raise EvaluationError("OOD fit: no labelled window to learn the classes from")
        f, y = f[lab], y[lab]
        overall_mean, overall_var = f.mean(axis=0), f.var(axis=0)
        means = np.tile(overall_mean, (n_classes, 1))
        var = np.tile(overall_var, (n_classes, 1))
        for c in range(n_classes):
            rows = f[y == c]
            if len(rows):
                means[c], var[c] = rows.mean(axis=0), rows.var(axis=0)
        var = np.maximum(var, floor * overall_var)
        usable = (overall_var > 0) & (var > 0)
        inv = np.where(usable, 1.0 / np.where(usable, var, 1.0), 0.0)
        return cls(means, inv)

    def score(self, features: np.ndarray) -> np.ndarray:
        """OOD score per window (module docstring), shape (n_windows,); NaN rows give NaN."""
        f = _features(features, self.n_features)
        out = np.full(f.shape[0], np.inf)
        for m, iv in zip(self.means, self.inv_var, strict=True):
            out = np.minimum(out, ((f - m) ** 2 * iv).sum(axis=1))
        out[np.isnan(f).any(axis=1)] = np.nan
        return out

    def to_dict(self) -> dict:
        """``{"ood_means": [[...]], "ood_inv_var": [[...]]}`` (nested lists)."""
        return {"ood_means": self.means.tolist(), "ood_inv_var": self.inv_var.tolist()}

def _posture_gate(classes: Sequence[str]) -> tuple[list[int], list[int]]:
    """Indices of the sitting/standing classes and of the walking classes (names as in
    :func:`tinyhar.postprocess.posture.class_roles`; one of the two postures may be
    missing, e.g. held out)."""
    sit, stand, walk = class_roles(classes)
    gate = sorted(sit + stand)
    if not (gate and walk):
        raise ConfigError(
            "postprocess.reject_posture needs a class named SITTING or STANDING and classes "
            f"named WALKING* (any case); this run's classes are {list(classes)}: use "
            "reject_posture: false"
        )
    return gate, walk


class PostureOodModel:
    """Tilt of sitting/standing windows to their class's tilt, referenced to the session.

    For each session (run) the tilt of a window is the angle (degrees) of its
    gravity direction to the session's mean walking gravity direction
    (:func:`~tinyhar.postprocess.posture.tilt_angles`, the windows whose top
    class is a walking class). The tilt relative to the median tilt of the
    session's postures (as ``posture: walking_reference_grouped`` uses) is not
    used: that median moves when a session holds an activity the training
    sessions did not (an unseen posture called sitting or standing), which
    made it fail on held-out STANDING (``benchmarks/unknown.py``). The score
    of a window whose top class ``c`` is sitting or standing is::

        score = |tilt - mean[c]| / sd[c]

    with the mean and standard deviation (plus :data:`POSTURE_SD_FLOOR`
    degrees) of the tilt of the training windows *labelled* ``c``; every
    other window, and a window of a session without a reference (fewer than
    ``min_walking`` walking windows), scores 0. A one-dimensional Gaussian
    per class, as the feature-space score (:class:`OodModel`) but on the
    posture cue that feature space lacks.

    Parameters
    ----------
    classes : sequence of str
        The model's classes (a sitting or standing class and walking
        classes needed, :func:`_posture_gate`).
    means, sds : array-like, shape (n_classes,)
        Tilt mean and standard deviation per class in degrees (used for the
        sitting/standing classes only; NaN = no model, score 0).
    min_walking : int >= 1
        Fewest walking windows a session needs for its reference.

    Raises
    ------
    ConfigError
        Missing classes, shapes that differ from the classes, infinite
        values or standard deviations that are not positive.
    """

    def __init__(self, classes: Sequence[str], means: object, sds: object,
                 min_walking: int = DEFAULT_MIN_WALKING) -> None:
        self.classes = [str(c) for c in classes]
        self.gate, self.walk = _posture_gate(self.classes)
        m = np.asarray(means, dtype=np.float64)
        sd = np.asarray(sds, dtype=np.float64)
        k = len(self.classes)
        if m.shape != (k,) or sd.shape != (k,):
            raise ConfigError(f"postprocess.rejection: posture_means {m.shape} and posture_sds "
                              f"{sd.shape} must both have shape ({k},), one per class")
        defined = np.isfinite(m) & np.isfinite(sd)
        if np.any(np.isinf(m)) or np.any(np.isinf(sd)) or np.any(sd[defined] <= 0):
            raise ConfigError("postprocess.rejection: posture_means must be finite or null and "
                              "posture_sds positive or null")
        self.means, self.sds = np.where(defined, m, np.nan), np.where(defined, sd, np.nan)
        self.min_walking = _check_int(min_walking, "posture_min_walking", 1)

    def tilts(self, proba: np.ndarray, gravity: np.ndarray | None,
              sessions: np.ndarray | None = None) -> np.ndarray:
        """Tilt of every window to its session's walking reference in degrees, shape
        (n_windows,), in [0, 180]; NaN without a reference.

        Parameters
        ----------
        proba : numpy.ndarray, shape (n_windows, n_classes)
            Class probabilities (their top class picks the walking and
            posture windows).
        gravity : numpy.ndarray, shape (n_windows, 3)
            Mean acceleration of each window in g.
        sessions : numpy.ndarray, shape (n_windows,), optional
            Session (run) id per window (default: one session).

        Raises
        ------
        ConfigError
            No mean accelerations.
        EvaluationError
            Shapes that do not fit.
        """
        from tinyhar.postprocess.hmm import _session_indices

        p = check_proba(proba)
        if gravity is None:
            raise ConfigError(
                "postprocess.reject_posture needs each window's mean acceleration "
                "(accelerometer channels acc_x, acc_y, acc_z); these predictions have none"
            )
        g = np.asarray(gravity, dtype=np.float64)
        if p.shape[1] != len(self.classes) or g.shape != (p.shape[0], 3):
            raise EvaluationError(
                f"posture OOD score: probabilities of shape {p.shape} and mean accelerations "
                f"of shape {g.shape}; expected (n, {len(self.classes)}) and (n, 3)")
        top = np.argmax(p, axis=1)
        out = np.full(len(p), np.nan)
        groups = [np.arange(len(p))] if sessions is None else _session_indices(sessions)
        for idx in groups:
            out[idx] = tilt_angles(g[idx], np.isin(top[idx], self.walk), self.min_walking)
        return out

    @classmethod
    def fit(cls, classes: Sequence[str], proba: np.ndarray, gravity: np.ndarray,
            y: np.ndarray, sessions: np.ndarray,
            min_walking: int = DEFAULT_MIN_WALKING) -> PostureOodModel:
        """Tilt mean and standard deviation of the labelled sitting/standing training windows.

        Parameters
        ----------
        classes : sequence of str
        proba : numpy.ndarray, shape (n_windows, n_classes)
            Cross-validated probabilities of the training subjects' stream
            windows (they choose each session's reference windows, as at
            prediction time).
        gravity : numpy.ndarray, shape (n_windows, 3)
            Mean acceleration per window (g).
        y : numpy.ndarray of int, shape (n_windows,)
            True class index; -1 = unlabelled or another class (ignored).
        sessions : numpy.ndarray, shape (n_windows,)
            Session (run) id per window, in time order within each.
        min_walking : int
            Fewest walking windows a session needs for its reference.

        Returns
        -------
        PostureOodModel

        Raises
        ------
        EvaluationError
            Fewer than 2 labelled windows with a tilt for every sitting or
            standing class of ``classes``.
        """
        model = cls(classes, np.full(len(classes), np.nan), np.full(len(classes), np.nan),
                    min_walking)
        tilt = model.tilts(proba, gravity, sessions)
        y = np.asarray(y, dtype=np.int64)
        if y.shape != tilt.shape:
            raise EvaluationError(f"posture OOD fit: {tilt.size} windows, {y.size} labels")
        for c in model.gate:
            t = tilt[(y == c) & np.isfinite(tilt)]
            if t.size < 2:
                raise EvaluationError(
                    f"postprocess.reject_posture: {t.size} labelled {model.classes[c]} windows "
                    "in sessions with walking; need at least 2 to learn its tilt")
            model.means[c], model.sds[c] = t.mean(), t.std() + POSTURE_SD_FLOOR
        return model

    def score(self, proba: np.ndarray, gravity: np.ndarray | None,
              sessions: np.ndarray | None = None) -> np.ndarray:
        """Posture OOD score per window (class docstring), shape (n_windows,), >= 0.

        Parameters as :meth:`tilts`.
        """
        tilt = self.tilts(proba, gravity, sessions)
        top = np.argmax(check_proba(proba), axis=1)
        mean, sd = self.means[top], self.sds[top]
        ok = np.isfinite(tilt) & np.isfinite(mean)
        out = np.zeros(len(tilt))
        out[ok] = np.abs(tilt[ok] - mean[ok]) / sd[ok]
        return out

    def to_dict(self) -> dict:
        """``{"posture_means": [...], "posture_sds": [...], "posture_min_walking": int}``
        (null where a class has no tilt model)."""
        def listed(v):
            return [None if not np.isfinite(x) else float(x) for x in v]
        return {"posture_means": listed(self.means), "posture_sds": listed(self.sds),
                "posture_min_walking": self.min_walking}


def _threshold(value: object, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ConfigError(f"postprocess.rejection.{key} must be a number or null, got {value!r}")
    v = float(value)
    if not np.isfinite(v):
        raise ConfigError(f"postprocess.rejection.{key} must be finite or null, got {value!r}")
    return v


class Rejection:
    """Unknown-activity rejection: options, calibrated thresholds and the OOD model.

    Parameters
    ----------
    method : {"none", "probability", "ood", "both"}
        Which tests reject a window (module docstring).
    false_rejection : float in (0, 0.5]
        Target fraction of known-activity windows rejected (calibration).
    var_floor : float >= 0
        Variance floor of :meth:`OodModel.fit`.
    proba_threshold : float, optional
        Reject when the top probability is below it (None = test off).
    ood_threshold : float, optional
        Reject when the OOD score is above it (None = test off).
    ood : OodModel, optional
        Fitted OOD model (needed by ``"ood"`` and ``"both"``).
    posture : bool
        Add the posture test (module docstring; offline only; not with
        ``"none"``).
    posture_share : float in (0, 1]
        Share of the per-test rate given to the posture test.
    min_walking : int >= 1
        Fewest walking windows a session needs for the posture reference.
    posture_threshold : float, optional
        Reject when the posture score is above it.
    posture_model : PostureOodModel, optional
        Fitted tilt model of the posture test.

    Raises
    ------
    ConfigError
        Unknown method or out-of-range values (the message names the key).
    """

    def __init__(
        self,
        method: str = "none",
        false_rejection: float = DEFAULT_FALSE_REJECTION,
        var_floor: float = DEFAULT_VAR_FLOOR,
        proba_threshold: float | None = None,
        ood_threshold: float | None = None,
        ood: OodModel | None = None,
        posture: bool = False,
        posture_share: float = DEFAULT_POSTURE_SHARE,
        min_walking: int = DEFAULT_MIN_WALKING,
        posture_threshold: float | None = None,
        posture_model: PostureOodModel | None = None,
    ) -> None:
        if method not in REJECT_METHODS:
            raise ConfigError(
                f"postprocess.reject must be one of {list(REJECT_METHODS)}, got {method!r}"
            )
        self.method = method
        self.false_rejection = _check_float(false_rejection, "false_rejection", 0.0, 0.5, True)
        self.var_floor = _check_float(var_floor, "ood_var_floor", 0.0, 1e6, False)
        self.proba_threshold = _threshold(proba_threshold, "proba_threshold")
        self.ood_threshold = _threshold(ood_threshold, "ood_threshold")
        self.ood = ood
        if not isinstance(posture, bool | np.bool_):
            raise ConfigError(f"postprocess.reject_posture must be true or false, got {posture!r}")
        if posture and method == "none":
            raise ConfigError("postprocess.reject_posture needs a rejection: set reject to "
                              "probability, ood or both")
        self.posture = bool(posture)
        self.posture_share = _check_float(posture_share, "reject_posture_share", 0.0, 1.0, True)
        self.min_walking = _check_int(min_walking, "posture_min_walking", 1)
        self.posture_threshold = _threshold(posture_threshold, "posture_threshold")
        self.posture_model = posture_model

    @property
    def active(self) -> bool:
        """True when windows can be rejected (method other than ``"none"``)."""
        return self.method != "none"

    @property
    def uses_ood(self) -> bool:
        """True when the OOD score is one of the tests."""
        return self.method in ("ood", "both")

    @property
    def uses_proba(self) -> bool:
        """True when the top probability is one of the tests."""
        return self.method in ("probability", "both")

    @property
    def uses_posture(self) -> bool:
        """True when the (offline) posture test is one of the tests."""
        return self.active and self.posture

    @property
    def streamable(self) -> bool:
        """False with the posture test (its reference needs the whole session)."""
        return not self.uses_posture

    @property
    def fitted(self) -> bool:
        """True when the thresholds (and the models) the tests need are set."""
        ok = not self.uses_proba or self.proba_threshold is not None
        ok = ok and (not self.uses_posture or (self.posture_model is not None
                                               and self.posture_threshold is not None))
        return ok and (not self.uses_ood or (self.ood is not None
                                              and self.ood_threshold is not None))

    def describe(self) -> str:
        """Short name, e.g. ``"reject(both,5%)"`` or ``"reject(both+posture,5%)"`` (empty
        for ``none``)."""
        if not self.active:
            return ""
        return f"reject({self.method}{'+posture' if self.posture else ''}," \
               f"{self.false_rejection:.0%})"

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise ConfigError(
                f"postprocess.reject {self.method!r} is not calibrated: fit the post-processing "
                "on the training subjects first"
            )

    def scores(self, proba: np.ndarray, ood: np.ndarray | None,
               gravity: np.ndarray | None = None,
               sessions: np.ndarray | None = None) -> np.ndarray:
        """One rejection score per window; the window is rejected when it is > 1.

        ``max((1 - top) / (1 - proba_threshold), ood / ood_threshold,
        posture / posture_threshold)`` over the active tests (a monotone
        score of each test, so its ROC curve is the test's own; with several
        tests, rejection is ``score > 1``).

        Parameters
        ----------
        proba : numpy.ndarray, shape (n_windows, n_classes)
        ood : numpy.ndarray, shape (n_windows,), optional
            OOD scores (:meth:`OodModel.score`); required by the OOD test.
        gravity : numpy.ndarray, shape (n_windows, 3), optional
            Mean acceleration per window in g; required by the posture test.
        sessions : numpy.ndarray, shape (n_windows,), optional
            Session (run) id per window for the posture test (default: one).

        Returns
        -------
        numpy.ndarray of float64, shape (n_windows,)
        """
        self._check_fitted()
        p = check_proba(proba)
        out = np.full(p.shape[0], -np.inf)
        if self.uses_proba:
            out = np.maximum(out, (1.0 - p.max(axis=1)) / max(1.0 - self.proba_threshold, 1e-12))
        if self.uses_ood:
            o = self._ood(ood, p.shape[0])
            out = np.maximum(out, o / max(self.ood_threshold, 1e-300))
        if self.uses_posture:
            t = self.posture_model.score(p, gravity, sessions)
            out = np.maximum(out, t / max(self.posture_threshold, 1e-300))
        return out

    @staticmethod
    def _ood(ood: np.ndarray | None, n: int) -> np.ndarray:
        if ood is None:
            raise ConfigError(
                "postprocess.reject uses the OOD score but no OOD scores were given "
                "(classify with the run's pipeline and its OOD model)"
            )
        o = np.asarray(ood, dtype=np.float64)
        if o.shape != (n,) or np.isnan(o).any():
            raise ConfigError(f"need one finite OOD score per window ({n}), got shape {o.shape}")
        return o

    def reject(self, proba: np.ndarray, ood: np.ndarray | None = None,
               gravity: np.ndarray | None = None,
               sessions: np.ndarray | None = None) -> np.ndarray:
        """Which windows are unknown: bool array of shape (n_windows,).

        ``top < proba_threshold`` or ``ood > ood_threshold`` or ``posture >
        posture_threshold`` (active tests only; module docstring;
        ``gravity`` and ``sessions`` as in :meth:`scores`).

        Raises
        ------
        ConfigError
            Not calibrated, or OOD scores (mean accelerations) missing when a
            test needs them.
        """
        p = check_proba(proba)
        out = np.zeros(p.shape[0], dtype=bool)
        if not self.active:
            return out
        self._check_fitted()
        if self.uses_proba:
            out |= p.max(axis=1) < self.proba_threshold
        if self.uses_ood:
            out |= self._ood(ood, p.shape[0]) > self.ood_threshold
        if self.uses_posture:
            out |= self.posture_model.score(p, gravity, sessions) > self.posture_threshold
        return out

    def calibrate(self, top_cv: np.ndarray, ood_cv: np.ndarray | None = None,
                  posture_cv: np.ndarray | None = None) -> Rejection:
        """Set the thresholds from held-out values of known-activity training windows.

        ``proba_threshold`` is the ``r``-quantile of the top probabilities,
        ``ood_threshold`` the ``(1 - r)``-quantile of the OOD scores and
        ``posture_threshold`` the ``(1 - r * posture_share)``-quantile of
        the posture scores, with ``r = false_rejection`` for one test; with
        several tests, ``r`` is found by bisection in ``[false_rejection /
        (n + posture_share), false_rejection]`` (``n`` tests besides the
        posture test) so that their union rejects ``false_rejection`` of the
        windows.

        Parameters
        ----------
        top_cv : numpy.ndarray, shape (n_windows,)
            Top class probability of each window from a cross-validation
            model that did not see its subject.
        ood_cv : numpy.ndarray, shape (n_windows,), optional
            OOD score of each window from an :class:`OodModel` fitted without
            its subject (required by ``"ood"`` and ``"both"``).
        posture_cv : numpy.ndarray, shape (n_windows,), optional
            Posture score of each window from a :class:`PostureOodModel`
            fitted without its subject (required by the posture test).

        Returns
        -------
        Rejection
            ``self``, calibrated.

        Raises
        ------
        EvaluationError
            No window, or lengths that differ.
        """
        if not self.active:
            return self
        top = np.asarray(top_cv, dtype=np.float64)
        if top.ndim != 1 or top.size == 0:
            raise EvaluationError("rejection calibration needs held-out windows of known classes")
        ood = self._ood(ood_cv, top.size) if self.uses_ood else None
        pos = None
        if self.uses_posture:
            pos = np.asarray(posture_cv, dtype=np.float64) if posture_cv is not None else None
            if pos is None or pos.shape != top.shape or not np.all(np.isfinite(pos)):
                raise ConfigError(f"the posture test needs one finite posture score per "
                                  f"calibration window ({top.size})")
        fr = self.false_rejection

        def at(r: float) -> tuple[float | None, float | None, float | None]:
            p_thr = float(np.quantile(top, r, method="lower")) if self.uses_proba else None
            o_thr = float(np.quantile(ood, 1 - r, method="higher")) if self.uses_ood else None
            t_thr = (float(np.quantile(pos, 1 - r * self.posture_share, method="higher"))
                     if self.uses_posture else None)
            return p_thr, o_thr, t_thr

        def rate(r: float) -> float:
            p_thr, o_thr, t_thr = at(r)
            out = np.zeros(top.size, dtype=bool)
            if p_thr is not None:
                out |= top < p_thr
            if o_thr is not None:
                out |= ood > o_thr
            if t_thr is not None:
                out |= pos > t_thr
            return float(np.mean(out))

        n_tests = int(self.uses_proba) + int(self.uses_ood)
        if n_tests > 1 or self.uses_posture:
            lo, hi = fr / (n_tests + (self.posture_share if self.uses_posture else 0.0)), fr
            for _ in range(30):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if rate(mid) < fr else (lo, mid)
            r = lo
        else:
            r = fr
        self.proba_threshold, self.ood_threshold, self.posture_threshold = at(r)
        return self

    def to_dict(self) -> dict:
        """JSON-able options and fitted state (the device contract keys; null = off)."""
        state = {
            "method": self.method,
            "false_rejection": self.false_rejection,
            "var_floor": self.var_floor,
            "proba_threshold": self.proba_threshold if self.uses_proba else None,
            "ood_threshold": self.ood_threshold if self.uses_ood else None,
            "ood_means": None,
            "ood_inv_var": None,
        }
        if self.uses_ood and self.ood is not None:
            state.update(self.ood.to_dict())
        if self.posture:  # keys only with the (offline) posture test: the device contract
            state.update({"posture": True, "posture_share": self.posture_share,
                          "posture_threshold": self.posture_threshold,
                          "posture_classes": None, "posture_means": None, "posture_sds": None,
                          "posture_min_walking": self.min_walking})
            if self.posture_model is not None:
                state.update(self.posture_model.to_dict())
                state["posture_classes"] = list(self.posture_model.classes)
        return state

    @classmethod
    def from_dict(cls, state: dict) -> Rejection:
        """Rebuild from :meth:`to_dict` output.

        Raises
        ------
        ConfigError
            Not a mapping, unknown keys or invalid values (named).
        """
        if not isinstance(state, dict):
            raise ConfigError("postprocess.rejection must be a mapping")
        keys = {"method", "false_rejection", "var_floor", "proba_threshold", "ood_threshold",
                "ood_means", "ood_inv_var", "posture", "posture_share", "posture_threshold",
                "posture_classes", "posture_means", "posture_sds", "posture_min_walking"}
        unknown = sorted(set(state) - keys)
        if unknown:
            raise ConfigError(
                f"postprocess.rejection has unknown keys {unknown}; allowed: {sorted(keys)}"
            )
        means, inv = state.get("ood_means"), state.get("ood_inv_var")
        if (means is None) != (inv is None):
            raise ConfigError("postprocess.rejection needs both ood_means and ood_inv_var")
        min_walking = state.get("posture_min_walking", DEFAULT_MIN_WALKING)
        posture_model = None
        p_classes = state.get("posture_classes")
        p_means, p_sds = state.get("posture_means"), state.get("posture_sds")
        if p_classes is not None or p_means is not None or p_sds is not None:
            if p_classes is None or p_means is None or p_sds is None:
                raise ConfigError("postprocess.rejection needs posture_classes, posture_means "
                                  "and posture_sds together")
            if not isinstance(p_means, list) or not isinstance(p_sds, list):
                raise ConfigError("postprocess.rejection posture_means and posture_sds must be "
                                  "lists (null = no model for that class)")
            posture_model = PostureOodModel(
                p_classes, [np.nan if v is None else v for v in p_means],
                [np.nan if v is None else v for v in p_sds], min_walking)
        return cls(
            state.get("method", "none"),
            state.get("false_rejection", DEFAULT_FALSE_REJECTION),
            state.get("var_floor", DEFAULT_VAR_FLOOR),
            state.get("proba_threshold"),
            state.get("ood_threshold"),
            None if means is None else OodModel(means, inv),
            posture=state.get("posture", False),
            posture_share=state.get("posture_share", DEFAULT_POSTURE_SHARE),
            min_walking=min_walking,
            posture_threshold=state.get("posture_threshold"),
            posture_model=posture_model,
        )

    def options(self) -> Rejection:
        """A copy with the same options and no fitted state."""
        return Rejection(self.method, self.false_rejection, self.var_floor,
                         posture=self.posture, posture_share=self.posture_share,
                         min_walking=self.min_walking)


def extend_proba(proba: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """Probabilities with an ``unknown`` column for the smoothing filters.

    Parameters
    ----------
    proba : numpy.ndarray, shape (n_windows, n_classes)
    rejected : numpy.ndarray of bool, shape (n_windows,)

    Returns
    -------
    numpy.ndarray of float64, shape (n_windows, n_classes + 1)
        ``[p, 0]`` for accepted windows, the one-hot row of class
        ``n_classes`` for rejected ones.
    """
    p = check_proba(proba)
    out = np.zeros((p.shape[0], p.shape[1] + 1))
    keep = ~np.asarray(rejected, dtype=bool)
    out[keep, :-1] = p[keep]
    out[~keep, -1] = 1.0
    return out


def add_unknown_state(startprob, transmat, emissionprob, n_unknown_windows: int):
    """Give the HMM's ``unknown`` state (last index) parameters when no window was labelled so.

    Training labels only name known activities, so the unknown state
    ``K`` of a ``(K + 1)``-state HMM fitted on :func:`extend_proba` rows has
    no data. Unless ``n_unknown_windows > 0``, its parameters are set as
    follows (an assumption, stated in the post-processing description):
    staying in ``unknown`` is as likely as the mean stay probability of the
    known classes; leaving it goes to the known classes in proportion to
    their priors; entering it from a known class is as likely as that
    class's mean transition to another known class (the class's row is
    rescaled so that its stay probability is kept); its windows are observed
    as ``unknown`` with probability :data:`UNKNOWN_EMIT`, else uniformly as
    a known class; its prior is the smallest known prior.

    Parameters
    ----------
    startprob : numpy.ndarray, shape (K + 1,)
    transmat, emissionprob : numpy.ndarray, shape (K + 1, K + 1)
    n_unknown_windows : int
        Training windows labelled ``unknown`` (parameters kept when > 0).

    Returns
    -------
    tuple of numpy.ndarray
        ``(startprob, transmat, emissionprob)``, rows summing to 1.
    """
    pi, a, b = (np.array(v, dtype=np.float64) for v in (startprob, transmat, emissionprob))
    if n_unknown_windows > 0:
        return pi, a, b
    k = pi.size - 1
    stay = np.diag(a)[:k]
    prior = pi[:k] / pi[:k].sum()
    a[k, k] = stay.mean()
    a[k, :k] = (1 - stay.mean()) * prior
    for i in range(k):
        others = [j for j in range(k) if j != i]
        move = a[i, others].sum()
        a[i, k] = move / max(len(others), 1)
        if move > 0:
            a[i, others] *= (move - a[i, k]) / move
        a[i] /= a[i].sum()
    b[k, :k] = (1 - UNKNOWN_EMIT) / k
    b[k, k] = UNKNOWN_EMIT
    pi[k] = pi[:k].min()
    pi /= pi.sum()
    return pi, a, b

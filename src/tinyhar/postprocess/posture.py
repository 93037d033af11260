"""Sitting or standing? A posture correction referenced to the session's walking gravity.

On a waist-worn sensor, sitting and standing differ mostly by how far the
pelvis (and so the sensor) is tilted away from upright. The absolute tilt
depends on how each person wears the sensor, which makes the two postures
the largest systematic error of subject-independent models (whole segments
of a few subjects, which no temporal smoothing can fix). Referencing the
tilt to the same person's upright posture removes most of that mounting
variation: while walking the trunk is upright, so the mean gravity
direction over a session's walking windows is a per-session calibration of
"upright", and the angle between a window's gravity direction and it is the
posture tilt (orientation calibration from walking, as used for
sensor-to-body alignment in e.g. Yurtman & Barshan 2017, "Activity
recognition invariant to sensor orientation with wearable motion sensors",
Sensors 17(8):1838, and for posture on waist sensors in Mathie, Coster,
Lovell & Celler 2004, "Accelerometry: providing an integrated, practical
method for long-term, ambulatory monitoring of human movement", Physiol.
Meas. 25(2):R1-R20).

:class:`PostureCorrection` learns, on the training subjects'
cross-validated streams, a logistic regression (scikit-learn) that
recalibrates the classifier's probabilities with the tilt angle to the
session's walking reference (degrees) as one more input (stacking, Wolpert
1992, "Stacked generalization", Neural Networks 5(2):241-259):

- ``walking_reference``: a binary regression of "sitting rather than
  standing" on the tilt angle and the classifier's log-odds ``log
  p(SITTING) - log p(STANDING)``, for the windows the classifier calls
  sitting or standing; it replaces the split of ``p(SITTING) +
  p(STANDING)`` of those windows, every other window and class is left as
  it is;
- ``walking_reference_all``: a multinomial regression of the true class on
  the classifier's log-probabilities of every class and the tilt angle, for
  every window with a reference; its probabilities replace the
  classifier's. The tilt also tells walking upstairs (the trunk leans
  forward) from walking on the flat.
- ``walking_reference_grouped``: the classifier's split between the static
  classes (every class whose name does not start with ``WALK``) and the
  walking classes is kept; within each group a multinomial regression
  re-decides the class from the classifier's log-probabilities
  renormalised within the group, the tilt angle and the *relative* tilt:
  the angle minus the median angle of the session's windows the
  classifier calls sitting or standing (0 when it calls none). The relative
  tilt removes the rest of each session's offset (the walking reference
  sits a few degrees off a person's standing posture, 1 to 21 degrees on
  the HAPT training sessions): as long as a session holds both postures,
  its median static tilt lies near the standing tilt and sitting stands out
  above it. Keeping the groups stops the tilt from moving confident
  walking windows of a session whose walking is tilted into a posture (the
  linear tilt weight of ``walking_reference_all`` is learned mostly between
  the groups).
- ``walking_reference_grouped_context``: as ``walking_reference_grouped``,
  with two more things the regressions see. (a) Context: the classifier's
  probabilities are averaged over the ``context`` windows centred on each
  window (fewer at a session's ends) before they are renormalised within
  the group and logged; only the regression's input is averaged, the
  smoothing stage still sees the corrected per-window probabilities. (b) For
  the static group, an interaction column: the sitting/standing log-odds
  times the relative tilt (clipped to :data:`INTERACTION_TILT_RANGE` degrees,
  divided by 10), so that the weight of the classifier's opinion can depend
  on the tilt. On the HAPT training subjects' 5-fold CV streams (acc +
  gyro) this raises the grouped method's best CV macro-F1 from 0.964 to
  0.971 with the default 9 windows (chosen by the same CV among 3, 5, 7 and
  9; README, "Continuous recognition").

Probabilities are clipped to at least :data:`PROBA_FLOOR` before the logs.
The reference is the mean unit gravity
vector over the session's windows whose top class is a walking class (at
least ``min_walking`` of them; otherwise the session is left unchanged). It
is a whole-session statistic (on HAPT the static postures come before the
walking part of every session), so the correction runs offline only: a
post-processing with it is not streamable and has no device export.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinyhar.errors import ConfigError, EvaluationError
from tinyhar.postprocess.filters import _check_int, window_sums

POSTURE_METHODS = ("none", "walking_reference", "walking_reference_all",
                   "walking_reference_grouped", "walking_reference_grouped_context")
"""Posture correction methods (``postprocess.posture`` also takes ``"auto"``, see
:func:`posture_candidates`)."""
POSTURE_KEYS = ("posture", "posture_min_walking", "posture_context")
"""``postprocess:`` configuration keys of the posture correction."""
PROBA_FLOOR = 1e-3
"""Probabilities are clipped to at least this before the log-odds (trees give exact zeros)."""
DEFAULT_MIN_WALKING = 5
"""Fewest walking windows a session needs for its reference."""
DEFAULT_CONTEXT = 9
"""Windows whose probabilities ``walking_reference_grouped_context`` averages (odd)."""
INTERACTION_TILT_RANGE = (-10.0, 40.0)
"""Relative tilt range (degrees) of the interaction column of
``walking_reference_grouped_context`` (beyond it, sitting or standing is clear)."""
_GROUPED = ("walking_reference_grouped", "walking_reference_grouped_context")


def class_roles(classes: Sequence[str]) -> tuple[list[int], list[int], list[int]]:
    """Indices of the classes named sitting, standing and walking (each list may be empty).

    Names are matched case-insensitively: ``SITTING`` (or ``SIT``),
    ``STANDING`` (or ``STAND``), and every class whose name starts with
    ``WALK`` (HAPT: WALKING, WALKING_UPSTAIRS, WALKING_DOWNSTAIRS).
    """
    upper = [str(c).upper() for c in classes]
    sit = [i for i, c in enumerate(upper) if c in ("SITTING", "SIT")]
    stand = [i for i, c in enumerate(upper) if c in ("STANDING", "STAND")]
    walk = [i for i, c in enumerate(upper) if c.startswith("WALK")]
    return sit, stand, walk


def posture_classes(classes: Sequence[str]) -> tuple[int, int, list[int]]:
    """Indices of the sitting, standing and walking classes among ``classes``
    (names as in :func:`class_roles`).

    Raises
    ------
    ConfigError
        If one of the three is missing (the message lists the classes).
    """
    sit, stand, walk = class_roles(classes)
    if not (sit and stand and walk):
        raise ConfigError(
            "postprocess.posture 'walking_reference' needs classes named SITTING, STANDING and "
            f"WALKING* (any case); this run's classes are {list(classes)}: use posture: none"
        )
    return sit[0], stand[0], walk


def posture_groups(classes: Sequence[str]) -> list[list[int]]:
    """The class groups of ``walking_reference_grouped``: static classes, then walking ones.

    Parameters
    ----------
    classes : sequence of str
        Class names; those whose name starts with ``WALK`` (any case) are
        the walking group, all others the static group.

    Returns
    -------
    list of list of int
        ``[static indices, walking indices]``, each in class order.

    Raises
    ------
    ConfigError
        As :func:`posture_classes` (sitting, standing or walking missing).
    """
    _, _, walk = posture_classes(classes)
    return [[i for i in range(len(classes)) if i not in walk], list(walk)]


def relative_tilt(angle: np.ndarray, static: np.ndarray) -> np.ndarray:
    """Tilt angles of one session minus the median angle of its sitting/standing windows.

    Parameters
    ----------
    angle : numpy.ndarray of float, shape (n_windows,)
        :func:`tilt_angles` of one session (degrees; NaN where undefined).
    static : numpy.ndarray of bool, shape (n_windows,)
        Windows the classifier calls sitting or standing.

    Returns
    -------
    numpy.ndarray of float64, shape (n_windows,)
        ``angle - median(angle[static])`` in degrees; 0 where ``angle`` is
        defined but no static window has a defined angle; NaN where
        ``angle`` is NaN.
    """
    a = np.asarray(angle, dtype=np.float64)
    use = np.asarray(static, dtype=bool) & np.isfinite(a)
    if not use.any():
        return np.where(np.isfinite(a), 0.0, np.nan)
    return a - float(np.median(a[use]))


def centred_mean(proba: np.ndarray, k: int) -> np.ndarray:
    """Mean of each row and its neighbours over ``k`` windows centred on it (one session).

    Parameters
    ----------
    proba : numpy.ndarray, shape (n_windows, n_classes)
        Probabilities of one session's windows in time order.
    k : int, odd, >= 1
        Windows averaged: the row and ``k // 2`` on each side; at the
        session's ends only the windows that exist (a shorter window).

    Returns
    -------
    numpy.ndarray of float64, shape (n_windows, n_classes)
    """
    p = np.asarray(proba, dtype=np.float64)
    h = k // 2
    if h == 0 or len(p) == 0:
        return p.copy()
    sums, counts = window_sums(p, h, h)
    return sums / counts[:, None]


def tilt_angles(gravity: np.ndarray, walking: np.ndarray, min_walking: int) -> np.ndarray:
    """Angle (degrees) of each window's gravity direction to the mean walking direction.

    Parameters
    ----------
    gravity : numpy.ndarray, shape (n_windows, 3)
        Mean acceleration of each window of one session (g); rows with a
        non-finite value or zero length get NaN.
    walking : numpy.ndarray of bool, shape (n_windows,)
        Windows that define the reference (the classifier's walking windows).
    min_walking : int
        Fewest usable walking windows for a reference; with fewer, all NaN.

    Returns
    -------
    numpy.ndarray of float64, shape (n_windows,)
        In [0, 180]; NaN where undefined.
    """
    g = np.asarray(gravity, dtype=np.float64)
    norm = np.linalg.norm(g, axis=1)
    ok = np.isfinite(norm) & (norm > 0)
    unit = np.zeros_like(g)
    unit[ok] = g[ok] / norm[ok, None]
    use = ok & np.asarray(walking, dtype=bool)
    out = np.full(len(g), np.nan)
    if use.sum() < max(1, min_walking):
        return out
    ref = unit[use].mean(axis=0)
    length = np.linalg.norm(ref)
    if length == 0:
        return out
    out[ok] = np.degrees(np.arccos(np.clip(unit[ok] @ (ref / length), -1.0, 1.0)))
    return out


def posture_candidates(classes: Sequence[str], option: str = "none",
                       min_walking: int = DEFAULT_MIN_WALKING,
                       has_gravity: bool = True,
                       context: int = DEFAULT_CONTEXT) -> list[PostureCorrection]:
    """The unfitted posture corrections a selection compares for ``postprocess.posture``.

    Parameters
    ----------
    classes : sequence of str
        The run's classes.
    option : str
        ``postprocess.posture``: one of :data:`POSTURE_METHODS` (that method
        only) or ``"auto"``: every method, ``"none"`` first (so that a tie
        keeps no correction), for leave-subjects-out cross-validation to
        choose (:func:`tinyhar.postprocess.select_postprocess`); only
        ``"none"`` when the classes lack sitting, standing or walking or the
        streams have no mean accelerations (``has_gravity`` false).
    min_walking : int >= 1
        ``postprocess.posture_min_walking``.
    has_gravity : bool
        Whether the streams have each window's mean acceleration.
    context : int, odd, >= 1
        ``postprocess.posture_context`` (``walking_reference_grouped_context``).

    Returns
    -------
    list of PostureCorrection
        Unfitted (inactive ones are always "fitted").

    Raises
    ------
    ConfigError
        An unknown option, or a method that does not fit the classes.
    """
    if option != "auto":
        return [PostureCorrection(classes, option, min_walking, context=context)]
    out = [PostureCorrection(classes, "none", min_walking)]
    try:
        posture_classes(classes)
    except ConfigError:
        return out
    if not has_gravity:
        return out
    return out + [PostureCorrection(classes, m, min_walking, context=context)
                  for m in POSTURE_METHODS[1:]]


class PostureCorrection:
    """Walking-referenced sitting/standing correction of class probabilities (module docstring).

    Parameters
    ----------
    classes : sequence of str
        The model's classes (must include sitting, standing and walking,
        see :func:`posture_classes`).
    method : {"none", "walking_reference", "walking_reference_all", \
"walking_reference_grouped", "walking_reference_grouped_context"}
    min_walking : int >= 1
        Fewest walking windows a session needs for its reference.
    coef : array-like, optional
        Fitted logistic regression; None = not fitted. ``walking_reference``:
        shape (1, 3), ``(w_angle per degree, w_log_odds, intercept)``;
        ``walking_reference_all``: shape (n_classes, n_classes + 2), row
        ``k`` the weights of class ``k`` on the log-probabilities, the angle
        and the intercept (softmax over the rows);
        ``walking_reference_grouped``: shape (n_classes, n_classes + 3), row
        ``k`` the weights of class ``k`` on the within-group
        log-probabilities (0 for the other group's classes), the angle, the
        relative angle and the intercept (softmax over the rows of the
        class's group, :func:`posture_groups`);
        ``walking_reference_grouped_context``: shape (n_classes,
        n_classes + 4), as the grouped one with the interaction column
        before the intercept (0 for the walking classes).
    context : int, odd, >= 1
        Windows averaged for the inputs of
        ``walking_reference_grouped_context`` (ignored by the others).

    Raises
    ------
    ConfigError
        Unknown method, missing classes, bad ``min_walking`` or ``coef``.
    """

    def __init__(self, classes: Sequence[str], method: str = "none",
                 min_walking: int = DEFAULT_MIN_WALKING,
                 coef: Sequence[float] | None = None,
                 context: int = DEFAULT_CONTEXT) -> None:
        if method not in POSTURE_METHODS:
            raise ConfigError(
                f"postprocess.posture must be one of {list(POSTURE_METHODS)}, got {method!r}"
            )
        self.classes = [str(c) for c in classes]
        self.method = method
        self.min_walking = _check_int(min_walking, "posture_min_walking", 1)
        if isinstance(context, bool) or not isinstance(context, (int, np.integer)) \
                or context < 1 or context % 2 == 0:
            raise ConfigError(f"postprocess.posture_context must be an odd integer >= 1 "
                              f"(windows centred on each window), got {context!r}")
        self.context = int(context)
        if self.active:
            self.sit, self.stand, self.walk = posture_classes(self.classes)
            self.groups = posture_groups(self.classes)
        self.coef = None
        if coef is not None:
            c = np.asarray(coef, dtype=np.float64)
            k = len(self.classes)
            shape = {"walking_reference": (1, 3), "walking_reference_all": (k, k + 2),
                     "walking_reference_grouped": (k, k + 3),
                     "walking_reference_grouped_context": (k, k + 4)}[method]
            if c.shape != shape or not np.all(np.isfinite(c)):
                raise ConfigError(
                    f"postprocess.posture.coef must be finite numbers of shape {shape} for "
                    f"{method!r}, got shape {c.shape}"
                )
            self.coef = c

    @property
    def active(self) -> bool:
        """True unless ``method`` is ``"none"``."""
        return self.method != "none"

    @property
    def fitted(self) -> bool:
        """True when the regression is fitted (always true when inactive)."""
        return not self.active or self.coef is not None

    @property
    def n_tilt(self) -> int:
        """Number of tilt input columns: 1, or 2 (grouped), or 3 (grouped with context)."""
        return {"walking_reference_grouped": 2, "walking_reference_grouped_context": 3}.get(
            self.method, 1)

    def describe(self) -> str:
        """``"posture(walking_reference)"``, ``"posture(walking_reference_grouped_context,k=9)"``
        or ``"none"``."""
        if self.method == "walking_reference_grouped_context":
            return f"posture({self.method},k={self.context})"
        return f"posture({self.method})" if self.active else "none"

    def unfitted(self) -> PostureCorrection:
        """A new unfitted correction with the same options."""
        return PostureCorrection(self.classes, self.method, self.min_walking,
                                 context=self.context)

    def _check(self, proba: np.ndarray, gravity: np.ndarray | None) -> tuple[np.ndarray,
                                                                             np.ndarray]:
        p = np.asarray(proba, dtype=np.float64)
        if gravity is None:
            raise ConfigError(
                "postprocess.posture 'walking_reference' needs each window's mean acceleration "
                "(accelerometer channels acc_x, acc_y, acc_z); these predictions have none"
            )
        g = np.asarray(gravity, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != len(self.classes) or g.shape != (p.shape[0], 3):
            raise EvaluationError(
                f"posture correction: probabilities of shape {p.shape} and mean "
                f"accelerations of shape {g.shape}; expected (n, {len(self.classes)}) and (n, 3)"
            )
        return p, g

    def _inputs(self, p: np.ndarray, g: np.ndarray, sessions: np.ndarray | None):
        """(tilt inputs, log-odds or log-probabilities, candidate mask) of every window.

        The tilt inputs are shape (n, :attr:`n_tilt`): the angle; for the
        grouped methods also the relative angle (:func:`relative_tilt`); with
        context also the interaction column (module docstring). The grouped
        methods' log-probabilities are renormalised within each class group
        (with context, of the probabilities' :func:`centred_mean`).
        """
        from tinyhar.postprocess.hmm import _session_indices

        top = np.argmax(p, axis=1)
        angle = np.full(len(p), np.nan)
        rel = np.full(len(p), np.nan)
        groups = ([np.arange(len(p))] if sessions is None
                  else _session_indices(np.asarray(sessions)))
        context = self.method == "walking_reference_grouped_context"
        mean = p.copy() if context else p
        for idx in groups:
            angle[idx] = tilt_angles(g[idx], np.isin(top[idx], self.walk), self.min_walking)
            rel[idx] = relative_tilt(angle[idx], np.isin(top[idx], [self.sit, self.stand]))
            if context:
                mean[idx] = centred_mean(p[idx], self.context)
        cand = np.isfinite(angle)
        if self.method in _GROUPED:
            log_p = np.zeros_like(p)
            for grp in self.groups:
                total = mean[:, grp].sum(axis=1, keepdims=True)
                share = mean[:, grp] / np.where(total > 0, total, 1.0)
                log_p[:, grp] = np.log(np.clip(share, PROBA_FLOOR, None))
            if not context:
                return np.column_stack([angle, rel]), log_p, cand
            inter = (log_p[:, self.sit] - log_p[:, self.stand]) \
                * np.clip(rel, *INTERACTION_TILT_RANGE) / 10.0
            return np.column_stack([angle, rel, inter]), log_p, cand
        log_p = np.log(np.clip(p, PROBA_FLOOR, None))
        if self.method == "walking_reference":
            cand &= np.isin(top, [self.sit, self.stand])
            return angle[:, None], (log_p[:, self.sit] - log_p[:, self.stand])[:, None], cand
        return angle[:, None], log_p, cand

    def fit(self, proba_cv: np.ndarray, gravity: np.ndarray, y: np.ndarray,
            sessions: np.ndarray) -> PostureCorrection:
        """Fit the regression on training windows (no-op when inactive).

        Parameters
        ----------
        proba_cv : numpy.ndarray, shape (n_windows, n_classes)
            Cross-validated (leave-subjects-out) probabilities of the
            training subjects' stream windows.
        gravity : numpy.ndarray, shape (n_windows, 3)
            Mean acceleration of each window (g).
        y : numpy.ndarray of str, shape (n_windows,)
            True class names (``""`` = unlabelled).
        sessions : numpy.ndarray, shape (n_windows,)
            Session (run) id per window, windows of a session in time order.

        Returns
        -------
        PostureCorrection
            ``self``.

        Raises
        ------
        EvaluationError
            Fewer than 10 labelled sitting or standing windows with a
            reference, or both postures not present.
        """
        if not self.active:
            return self
        from sklearn.linear_model import LogisticRegression

        p, g = self._check(proba_cv, gravity)
        angle, log_p, cand = self._inputs(p, g, sessions)
        y = np.asarray(y, dtype=object).astype(str)
        pair = self.method == "walking_reference"
        wanted = [self.classes[self.sit], self.classes[self.stand]] if pair else self.classes
        use = cand & np.isin(y, wanted)
        if use.sum() < 10 or len(set(y[use].tolist())) < 2:
            raise EvaluationError(
                f"postprocess.posture: the training streams need labelled windows of "
                f"{'sitting and standing' if pair else 'at least 2 classes'} in sessions with "
                f"walking to fit the correction; found {int(use.sum())}"
            )
        if self.method in _GROUPED:
            self.coef = self._fit_grouped(np.column_stack([log_p, angle]), y, use)
            return self
        lr = LogisticRegression(C=1.0, max_iter=2000)
        lr.fit(np.column_stack([log_p[use], angle[use]]), y[use])
        w = np.column_stack([lr.coef_, lr.intercept_])  # columns: log-p..., angle, intercept
        if pair:  # one row for lr.classes_[1]: make it "sitting rather than standing"
            sign = 1.0 if lr.classes_[1] == self.classes[self.sit] else -1.0
            self.coef = sign * w[:, [1, 0, 2]]
            return self
        self.coef = self._rows(w, lr.classes_, len(self.classes) + 2)
        return self

    def _rows(self, w: np.ndarray, fitted: np.ndarray, width: int) -> np.ndarray:
        """Coefficient matrix (n_classes, width) from a fitted regression's rows ``w`` for
        the classes ``fitted``; classes without training windows get intercept -50."""
        if len(fitted) == 2:  # binary: the one row is class 1 against class 0
            w = np.vstack([-w / 2, w / 2])
        coef = np.zeros((len(self.classes), width))
        coef[:, -1] = -50.0  # classes without training windows: probability ~0
        for row, c in zip(w, fitted, strict=True):
            coef[self.classes.index(str(c))] = row
        return coef

    def _fit_grouped(self, x: np.ndarray, y: np.ndarray, use: np.ndarray) -> np.ndarray:
        """The grouped methods: one multinomial regression per class group on its
        within-group log-probabilities and the tilt inputs (``x`` columns: the n_classes
        log-probabilities, angle, relative angle, and with context the interaction, which
        only the static group uses)."""
        from sklearn.linear_model import LogisticRegression

        k = len(self.classes)
        coef = np.full((k, k + self.n_tilt + 1), 0.0)
        coef[:, -1] = -50.0
        for gi, grp in enumerate(self.groups):
            names = [self.classes[i] for i in grp]
            rows = use & np.isin(y, names)
            cols = [*grp, *range(k, k + (self.n_tilt if gi == 0 else 2))]
            present = sorted(set(y[rows].tolist()))
            if len(present) < 2:  # nothing to re-decide: the one present class keeps it all
                for c in present:
                    coef[self.classes.index(c), -1] = 0.0
                continue
            lr = LogisticRegression(C=1.0, max_iter=2000)
            lr.fit(x[rows][:, cols], y[rows])
            w = self._rows(np.column_stack([lr.coef_, lr.intercept_]), lr.classes_,
                           len(cols) + 1)
            coef[np.ix_(grp, [*cols, k + self.n_tilt])] = w[grp]
        return coef

    def correct(self, proba: np.ndarray, gravity: np.ndarray | None,
                sessions: np.ndarray | None = None) -> np.ndarray:
        """Corrected probabilities (a copy; unchanged when inactive).

        Parameters
        ----------
        proba : numpy.ndarray, shape (n_windows, n_classes)
        gravity : numpy.ndarray, shape (n_windows, 3)
            Mean acceleration of each window (g).
        sessions : numpy.ndarray, shape (n_windows,), optional
            Session id per window (default: one session).

        Returns
        -------
        numpy.ndarray of float64, shape (n_windows, n_classes)
            The corrected probabilities (``walking_reference``: the
            sitting/standing split of the windows whose top class is either,
            rows still summing as before; ``walking_reference_all``: every
            row with a reference, summing to 1).

        Raises
        ------
        ConfigError
            Not fitted, or no mean accelerations.
        """
        if not self.active:
            return np.array(proba, dtype=np.float64)
        if self.coef is None:
            raise ConfigError("postprocess.posture is not fitted: call fit")
        p, g = self._check(proba, gravity)
        angle, log_p, cand = self._inputs(p, g, sessions)
        out = p.copy()
        x = np.column_stack([log_p[cand], angle[cand], np.ones(int(cand.sum()))])
        if self.method in _GROUPED:
            for grp in self.groups:
                z = x @ self.coef[grp].T
                z -= z.max(axis=1, keepdims=True)
                e = np.exp(z)
                total = p[cand][:, grp].sum(axis=1, keepdims=True)
                out[np.ix_(np.flatnonzero(cand), grp)] = total * e / e.sum(axis=1, keepdims=True)
            return out
        if self.method == "walking_reference":
            w = self.coef[0]
            q = 1.0 / (1.0 + np.exp(-(w[0] * x[:, 1] + w[1] * x[:, 0] + w[2])))
            total = p[cand, self.sit] + p[cand, self.stand]
            out[cand, self.sit] = total * q
            out[cand, self.stand] = total * (1.0 - q)
            return out
        z = x @ self.coef.T
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        out[cand] = e / e.sum(axis=1, keepdims=True)
        return out

    def to_dict(self) -> dict:
        """JSON-able state: ``method``, ``min_walking``, ``coef`` (nested lists or None),
        and ``context`` for ``walking_reference_grouped_context``."""
        out = {"method": self.method, "min_walking": self.min_walking,
               "coef": None if self.coef is None else self.coef.tolist()}
        if self.method == "walking_reference_grouped_context":
            out["context"] = self.context
        return out

    @classmethod
    def from_dict(cls, state: dict | str, classes: Sequence[str]) -> PostureCorrection:
        """Rebuild from :meth:`to_dict` output (or a bare method name from a config).

        Raises
        ------
        ConfigError
            Not a mapping or a method name, unknown keys or invalid values.
        """
        if isinstance(state, str):
            return cls(classes, state)
        if not isinstance(state, dict):
            raise ConfigError("postprocess.posture must be a method name or a mapping")
        unknown = sorted(set(state) - {"method", "min_walking", "coef", "context"})
        if unknown:
            raise ConfigError(f"postprocess.posture has unknown keys {unknown}")
        return cls(classes, state.get("method", "none"),
                   state.get("min_walking", DEFAULT_MIN_WALKING), state.get("coef"),
                   state.get("context", DEFAULT_CONTEXT))

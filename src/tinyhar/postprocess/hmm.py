"""Hidden Markov model over activity classes, fitted from labels and cross-validated predictions.

The hidden states are the activity classes; the observation at window ``t``
is the classifier's predicted class ``o[t] = argmax(proba[t])``. This is the
"RF + HMM" smoother of the CAPTURE-24 benchmark (Chan et al. 2024,
"CAPTURE-24: A large dataset of wrist-worn activity tracker data collected
in the wild for human activity recognition", Scientific Data 11:1135; code:
OxWearables/capture24, ``hmm.py``), which in turn follows Willetts et al.
2018 (Scientific Reports 8:7961):

- start probabilities ``pi[i]``: class frequencies of the labelled training
  windows;
- transition matrix ``A[i, j] = P(class j at t+1 | class i at t)``: counts
  of consecutive labelled windows of the same session (pairs with an
  unlabelled window are skipped); the diagonal holds the stay
  probabilities;
- emission matrix ``B[i, j] = P(predicted j | true i)``: the mean
  cross-validated predicted probability of class ``j`` over the training
  windows whose true class is ``i`` (a soft confusion matrix). Choosing
  ``P(predicted | true)`` over "probabilities divided by priors" keeps the
  model a plain categorical HMM (exactly what ``hmmlearn.hmm.CategoricalHMM``
  decodes) and a device needs only a ``K x K`` table.

Every count gets additive (Laplace/Lidstone) smoothing ``smoothing`` per
cell before rows are normalised, so no probability is 0 and classes unseen
in training get uniform rows.

Decoding: offline by Viterbi in log space (Viterbi 1967; Rabiner 1989,
Proc. IEEE 77(2), section III.B); online by forward filtering with a fixed
lag ``L`` (fixed-lag smoothing: the decision for window ``t`` is the argmax
of ``P(state_t | o[0..t+L])``, computed when window ``t + L`` arrives from
the normalised forward vector of ``t`` and a backward pass over the last
``L`` observations; Rabiner 1989, section III.A, with scaling). ``L = 0``
is plain forward filtering.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from tinyhar.errors import ConfigError, EvaluationError
from tinyhar.postprocess.filters import Decision, _check_int, check_proba


def _log(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(x)


def _check_matrix(value: object, shape: tuple[int, ...], key: str) -> np.ndarray:
    a = np.asarray(value, dtype=np.float64)
    if a.shape != shape:
        raise ConfigError(f"postprocess.hmm.{key} must have shape {shape}, got {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ConfigError(f"postprocess.hmm.{key} must hold finite probabilities >= 0")
    if not np.allclose(a.sum(axis=-1), 1.0, atol=1e-6):
        raise ConfigError(f"postprocess.hmm.{key}: every row must sum to 1")
    return a


class ClassHMM:
    """Categorical HMM whose states and observations are the activity classes.

    Parameters
    ----------
    startprob : array-like, shape (n_classes,)
        ``pi``: probability of each class at a session's first window.
    transmat : array-like, shape (n_classes, n_classes)
        ``A[i, j]``: probability of class ``j`` following class ``i`` one
        window (one hop) later.
    emissionprob : array-like, shape (n_classes, n_classes)
        ``B[i, j]``: probability that the classifier predicts ``j`` when the
        true class is ``i``.

    Raises
    ------
    ConfigError
        If a matrix has the wrong shape, negative values or rows not summing
        to 1.

    See Also
    --------
    ClassHMM.fit : learn the three matrices (module docstring for the method).
    """

    def __init__(self, startprob: object, transmat: object, emissionprob: object) -> None:
        pi = np.asarray(startprob, dtype=np.float64)
        k = pi.shape[0] if pi.ndim == 1 else 0
        if k < 2:
            raise ConfigError(f"postprocess.hmm.startprob must be a vector of >= 2 classes, "
                              f"got shape {pi.shape}")
        self.startprob = _check_matrix(pi, (k,), "startprob")
        self.transmat = _check_matrix(transmat, (k, k), "transmat")
        self.emissionprob = _check_matrix(emissionprob, (k, k), "emissionprob")

    @property
    def n_classes(self) -> int:
        """Number of classes (states = observation symbols)."""
        return int(self.startprob.shape[0])

    @classmethod
    def fit(
        cls,
        proba_cv: np.ndarray,
        y: np.ndarray,
        sessions: np.ndarray,
        smoothing: float = 1.0,
    ) -> ClassHMM:
        """Learn priors, transitions and emissions from training windows.

        Parameters
        ----------
        proba_cv : numpy.ndarray, shape (n_windows, n_classes)
            Cross-validated (out-of-fold, leave-subjects-out) predicted
            probabilities of the training windows: each row from a model that
            did not see that window's subject.
        y : numpy.ndarray of int, shape (n_windows,)
            True class index per window; ``-1`` = unlabelled (ignored).
        sessions : numpy.ndarray, shape (n_windows,)
            Session id per window; windows of a session are in time order.
        smoothing : float >= 0
            Additive smoothing count added to every cell of the prior,
            transition and emission counts.

        Returns
        -------
        ClassHMM

        Raises
        ------
        EvaluationError
            If no window is labelled or the arrays disagree in length.
        ConfigError
            If ``smoothing`` is negative, or zero while a class has no data or
            a transition or emission count is zero.
        """
        p = check_proba(proba_cv, "cross-validated probabilities")
        n, k = p.shape
        y = np.asarray(y, dtype=np.int64)
        sessions = np.asarray(sessions)
        if y.shape != (n,) or sessions.shape != (n,):
            raise EvaluationError(
                f"HMM fit: {n} probability rows, {y.size} labels, {sessions.size} session ids"
            )
        if not float(smoothing) >= 0:
            raise ConfigError(f"postprocess.hmm_smoothing must be >= 0, got {smoothing!r}")
        if np.any(y >= k) or np.any(y < -1):
            raise EvaluationError(f"HMM fit: labels must be -1 or 0..{k - 1}")
        lab = y >= 0
        if not lab.any():
            raise EvaluationError("HMM fit: no labelled window to learn from")
        s = float(smoothing)
        prior = np.bincount(y[lab], minlength=k).astype(np.float64) + s
        trans = np.full((k, k), s)
        for idx in _session_indices(sessions):
            ys = y[idx]
            a, b = ys[:-1], ys[1:]
            ok = (a >= 0) & (b >= 0)
            np.add.at(trans, (a[ok], b[ok]), 1.0)
        emis = np.full((k, k), s)
        np.add.at(emis, y[lab], p[lab])
        for name, m in (("prior", prior), ("transition", trans), ("emission", emis)):
            if np.any(m.sum(axis=-1) <= 0):
                raise ConfigError(
                    f"HMM fit: a class has no {name} data and postprocess.hmm_smoothing is 0; "
                    "use a smoothing > 0"
                )
        if s == 0 and (np.any(trans == 0) or np.any(emis == 0)):
            # a zero transition or emission makes some observed sequences impossible: the
            # forward filter would divide 0 by 0 and decode nonsense without a word
            raise ConfigError(
                "HMM fit: with postprocess.hmm_smoothing 0 some transitions or emissions never "
                "occur in the training windows, so the decoder cannot follow sequences that "
                "contain them; use a smoothing > 0 (default 1)"
            )
        return cls(
            prior / prior.sum(),
            trans / trans.sum(axis=1, keepdims=True),
            emis / emis.sum(axis=1, keepdims=True),
        )

    # ------------------------------------------------------------------ decoding

    def _obs(self, obs: np.ndarray) -> np.ndarray:
        o = np.asarray(obs)
        if o.ndim == 2:
            o = np.argmax(check_proba(o), axis=1)
        o = o.astype(np.int64)
        if o.size and (o.min() < 0 or o.max() >= self.n_classes):
            raise ConfigError(f"observations must be class indices in 0..{self.n_classes - 1}")
        return o

    def viterbi(self, obs: np.ndarray) -> np.ndarray:
        """Most probable class sequence (Viterbi, log space).

        Parameters
        ----------
        obs : numpy.ndarray, shape (n_windows,) of int or (n_windows, n_classes)
            Predicted class per window, or probabilities (their argmax is used).

        Returns
        -------
        numpy.ndarray of int64, shape (n_windows,)
            Ties go to the lowest class index.
        """
        o = self._obs(obs)
        n = o.size
        if n == 0:
            return o
        log_a = _log(self.transmat)
        log_b = _log(self.emissionprob)
        delta = _log(self.startprob) + log_b[:, o[0]]
        back = np.zeros((n, self.n_classes), dtype=np.int64)
        for t in range(1, n):
            scores = delta[:, None] + log_a  # (from, to)
            back[t] = np.argmax(scores, axis=0)
            delta = scores[back[t], np.arange(self.n_classes)] + log_b[:, o[t]]
        path = np.empty(n, dtype=np.int64)
        path[-1] = int(np.argmax(delta))
        for t in range(n - 1, 0, -1):
            path[t - 1] = back[t, path[t]]
        return path

    def forward(self, obs: np.ndarray) -> np.ndarray:
        """Filtered posteriors ``P(class_t | o[0..t])`` (normalised forward pass).

        Parameters
        ----------
        obs : numpy.ndarray, shape (n_windows,) of int or (n_windows, n_classes)

        Returns
        -------
        numpy.ndarray of float64, shape (n_windows, n_classes)
        """
        o = self._obs(obs)
        out = np.empty((o.size, self.n_classes))
        alpha = None
        for t in range(o.size):
            alpha = self._forward_step(alpha, o[t])
            out[t] = alpha
        return out

    def posteriors(self, obs: np.ndarray) -> np.ndarray:
        """Smoothed posteriors ``P(class_t | o[0..n-1])`` (forward-backward, scaled).

        Parameters
        ----------
        obs : numpy.ndarray, shape (n_windows,) of int or (n_windows, n_classes)

        Returns
        -------
        numpy.ndarray of float64, shape (n_windows, n_classes)
        """
        o = self._obs(obs)
        alpha = self.forward(o)
        beta = np.ones(self.n_classes)
        out = np.empty_like(alpha)
        for t in range(o.size - 1, -1, -1):
            g = alpha[t] * beta
            out[t] = g / g.sum()
            beta = self._backward_step(beta, o[t])
        return out

    def _forward_step(self, alpha: np.ndarray | None, o: int) -> np.ndarray:
        pred = self.startprob if alpha is None else alpha @ self.transmat
        a = pred * self.emissionprob[:, o]
        return a / a.sum()

    def _backward_step(self, beta: np.ndarray, o: int) -> np.ndarray:
        """``beta_{t-1}`` from ``beta_t`` and ``o[t]``, normalised to sum 1."""
        b = self.transmat @ (self.emissionprob[:, o] * beta)
        return b / b.sum()

    def fixed_lag(self, obs: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
        """Offline run of :class:`FixedLagStream` over one session.

        Parameters
        ----------
        obs : numpy.ndarray, shape (n_windows,) of int or (n_windows, n_classes)
        lag : int >= 0
            Lag ``L`` in windows.

        Returns
        -------
        classes : numpy.ndarray of int64, shape (n_windows,)
        posteriors : numpy.ndarray of float64, shape (n_windows, n_classes)
            ``P(class_t | o[0..min(t+L, n-1)])``.
        """
        o = self._obs(obs)
        stream = FixedLagStream(self, lag)
        onehot = np.eye(self.n_classes)
        decided = [stream.push(onehot[x], int(x)) for x in o]
        decided = [d for d in decided if d is not None] + stream.flush()
        cls = np.array([d.cls for d in decided], dtype=np.int64)
        post = np.array([d.proba for d in decided]).reshape(o.size, self.n_classes)
        return cls, post

    def stream(self, lag: int) -> FixedLagStream:
        """A :class:`FixedLagStream` over this model."""
        return FixedLagStream(self, lag)

    # ------------------------------------------------------------------ state

    def to_dict(self) -> dict:
        """JSON-able state: ``startprob``, ``transmat``, ``emissionprob`` as lists."""
        return {
            "startprob": self.startprob.tolist(),
            "transmat": self.transmat.tolist(),
            "emissionprob": self.emissionprob.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict) -> ClassHMM:
        """Rebuild from :meth:`to_dict` output.

        Raises
        ------
        ConfigError
            If a key is missing or a matrix is invalid (the message names it).
        """
        if not isinstance(state, dict):
            raise ConfigError("postprocess.hmm must be a mapping")
        missing = [k for k in ("startprob", "transmat", "emissionprob") if k not in state]
        if missing:
            raise ConfigError(f"postprocess.hmm is missing {missing}")
        return cls(state["startprob"], state["transmat"], state["emissionprob"])


class FixedLagStream:
    """Online HMM decoding by forward filtering with a fixed lag.

    ``push`` takes window ``t`` and returns the decision for window ``t - L``:
    the argmax of ``P(class_{t-L} | o[0..t])``. ``flush`` decides the last
    ``L`` windows with the observations up to the session end (so with
    ``L >= n_windows`` every decision is the forward-backward posterior's
    argmax over the whole session).

    Parameters
    ----------
    model : ClassHMM
    lag : int >= 0
        ``L`` in windows (decision delay ``L * hop`` seconds).

    Notes
    -----
    State: the last ``L + 1`` normalised forward vectors and observations
    (``(L + 1) * (n_classes + 1)`` numbers). Cost per window:
    ``O(L * n_classes**2)``.
    """

    def __init__(self, model: ClassHMM, lag: int) -> None:
        self.model = model
        self.lag = _check_int(lag, "hmm_lag", 0)
        self.reset()

    def reset(self) -> None:
        """Forget the session."""
        self._alpha: np.ndarray | None = None
        self._buf: deque = deque()  # (index, alpha, obs), windows t-L .. t
        self._n = 0

    def _decide(self) -> Decision:
        t, alpha, _ = self._buf[0]
        beta = np.ones(self.model.n_classes)
        for _, _, o in reversed(list(self._buf)[1:]):
            beta = self.model._backward_step(beta, o)
        g = alpha * beta
        g = g / g.sum()
        self._buf.popleft()
        return Decision(t, int(np.argmax(g)), g)

    def push(self, proba: np.ndarray, cls: int | None = None) -> Decision | None:
        """Add window ``t`` (its probabilities; the observation is their argmax, or ``cls``)."""
        o = int(np.argmax(proba)) if cls is None else int(cls)
        self._alpha = self.model._forward_step(self._alpha, o)
        self._buf.append((self._n, self._alpha, o))
        self._n += 1
        if len(self._buf) > self.lag:
            return self._decide()
        return None

    def flush(self) -> list[Decision]:
        """Decide the pending windows at the end of the session, then reset."""
        out = []
        while self._buf:
            out.append(self._decide())
        self.reset()
        return out


def _session_indices(sessions: np.ndarray) -> list[np.ndarray]:
    """Window indices of each session, in order of first appearance, in array order."""
    sessions = np.asarray(sessions)
    _, first, inverse = np.unique(sessions, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    groups = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse))
    parts = np.split(groups, bounds[:-1])
    return [parts[i] for i in order]

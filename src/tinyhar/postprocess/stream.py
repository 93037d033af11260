"""Streaming post-processing: :class:`PostProcessStream`, one window at a time.

It runs the stages of a fitted :class:`~tinyhar.postprocess.processor.PostProcessor`
(smoothing -> minimum duration -> hysteresis) incrementally, so that
concatenating its decisions gives exactly :meth:`PostProcessor.apply` of the
session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tinyhar.errors import ConfigError
from tinyhar.postprocess.filters import (
    Decision,
    EmaStream,
    HysteresisStream,
    MinDurationStream,
    ModeFilterStream,
    check_proba,
)

if TYPE_CHECKING:
    from tinyhar.postprocess.processor import PostProcessor


class PostProcessStream:
    """Streaming :class:`PostProcessor` (one session at a time).

    ``push(proba)`` takes the probabilities of the next window and returns
    the decided class index of the window :attr:`lag` windows earlier
    (``None`` while the first windows are pending); ``flush()`` returns the
    remaining decisions at the end of the session and resets for the next.
    Concatenating the returns gives exactly :meth:`PostProcessor.apply` of
    the session.

    Parameters
    ----------
    spec : PostProcessor
        A streamable (:attr:`PostProcessor.streamable`), fitted spec.

    Raises
    ------
    ConfigError
        If the spec is not streamable or not fitted.
    """

    def __init__(self, spec: PostProcessor) -> None:
        if not spec.streamable:
            raise ConfigError(
                f"post-processing {spec.describe()} needs whole sessions: streaming supports "
                "hmm_decoder 'fixed_lag' and min_duration_rule 'causal', without posture"
            )
        if spec.needs_fit:
            raise ConfigError("postprocess.smoothing is 'hmm' but the HMM is not fitted: call fit")
        self.spec = spec
        self.lag = spec.lag
        k = spec.n_out
        stages: list = []
        if spec.smoothing == "mode":
            stages.append(ModeFilterStream(spec.mode_k, k))
        elif spec.smoothing == "ema":
            stages.append(EmaStream(spec.ema_alpha))
        elif spec.smoothing == "hmm":
            stages.append(spec.hmm.stream(spec.hmm_lag))
        if spec.min_duration > 1:
            stages.append(MinDurationStream(spec.min_duration))
        if spec.hysteresis_margin > 0 or spec.hysteresis_windows > 1:
            stages.append(HysteresisStream(spec.hysteresis_margin, spec.hysteresis_windows))
        self._stages = stages
        self._n = 0

    def _through(self, decisions: list[Decision], flush: bool) -> list[Decision]:
        """Pass decisions through every stage in order (flushing each after its input)."""
        for stage in self._stages:
            nxt: list[Decision] = []
            for d in decisions:
                r = stage.push(d.proba, d.cls)
                if r is not None:
                    nxt.append(r)
            if flush:
                nxt.extend(stage.flush())
            decisions = nxt
        return decisions

    def push(self, proba: np.ndarray, ood: float | None = None) -> int | None:
        """Add the next window's probabilities, shape (n_classes,); return a decided class or None.

        ``ood`` is the window's OOD score (needed when the rejection uses it).
        The returned index ``n_classes`` means ``"unknown"``.

        Raises
        ------
        ConfigError
            If the row does not have ``n_classes`` finite values >= 0.
        """
        p = check_proba(np.asarray(proba, dtype=np.float64).reshape(1, -1))[0]
        if p.shape[0] != self.spec.n_classes:
            raise ConfigError(
                f"a window has {p.shape[0]} probabilities, the post-processor "
                f"{self.spec.n_classes} classes"
            )
        if self.spec.rejection.active:
            p = self.spec._extended(p[None], None if ood is None else np.array([ood]))[0]
        out = self._through([Decision(self._n, int(np.argmax(p)), p)], flush=False)
        self._n += 1
        return out[0].cls if out else None

    def flush(self) -> list[int]:
        """Decide the pending windows at the end of the session; reset for the next session."""
        decisions = self._through([], flush=True)
        self._n = 0
        return [d.cls for d in decisions]

    def reset(self) -> None:
        """Drop the pending windows and start a new session."""
        for stage in self._stages:
            stage.reset()
        self._n = 0

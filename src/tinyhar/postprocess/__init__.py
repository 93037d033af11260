"""Post-processing of per-window predictions into a clean activity timeline.

Layer: after :mod:`tinyhar.models`, before :mod:`tinyhar.export`; works on
class probabilities of shape ``(n_windows, n_classes)`` per session, in time
order. See :class:`PostProcessor` (the configurable, fitted, serialisable
stage), :func:`select_postprocess` (choice by leave-subjects-out CV on
training subjects), :mod:`tinyhar.postprocess.filters` (mode filter, EMA,
minimum duration, hysteresis) and :mod:`tinyhar.postprocess.hmm` (HMM with
Viterbi and fixed-lag decoding) and :mod:`tinyhar.postprocess.rejection`
(unknown activity: top-probability and OOD rejection).
"""

from tinyhar.postprocess.filters import (
    Decision,
    EmaStream,
    HysteresisStream,
    MinDurationStream,
    ModeFilterStream,
    ema_filter,
    hysteresis,
    min_duration_causal,
    min_duration_merge,
    mode_filter,
    runs,
)
from tinyhar.postprocess.hmm import ClassHMM, FixedLagStream
from tinyhar.postprocess.processor import (
    FORMAT_VERSION,
    SMOOTHING,
    PostProcessor,
    PostProcessStream,
    default_candidates,
    select_postprocess,
)
from tinyhar.postprocess.rejection import (
    UNKNOWN_CLASS,
    OodModel,
    PostureOodModel,
    Rejection,
    extend_proba,
)

__all__ = [
    "FORMAT_VERSION",
    "SMOOTHING",
    "UNKNOWN_CLASS",
    "ClassHMM",
    "Decision",
    "EmaStream",
    "FixedLagStream",
    "HysteresisStream",
    "MinDurationStream",
    "ModeFilterStream",
    "OodModel",
    "PostureOodModel",
    "PostProcessStream",
    "PostProcessor",
    "Rejection",
    "default_candidates",
    "ema_filter",
    "extend_proba",
    "hysteresis",
    "min_duration_causal",
    "min_duration_merge",
    "mode_filter",
    "runs",
    "select_postprocess",
]

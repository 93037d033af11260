"""Classifiers of windows and the pipeline that applies them.

- :class:`HarPipeline`, :data:`PIPELINE_FILE`: a run's fitted window layout,
  feature extractor and classifier, saved without pickle (:mod:`.pipeline`);
- :class:`TreeEnsembleClassifier`, :data:`MODEL_KINDS`: random forest or extra
  trees under a size budget, predicting from device arrays (:mod:`.trees`);
- :class:`NeuralNetClassifier`, :func:`make_estimator`, :data:`PRESETS`: small
  networks on raw windows (:mod:`.nn`, optional ``deep`` extra).

Everything is imported on first use, so ``import tinyhar.models`` (and
``import tinyhar.models.nn.presets`` for the preset names) imports neither
scikit-learn's ensembles nor torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinyhar.models.nn import PRESETS, NeuralNetClassifier, make_estimator
    from tinyhar.models.pipeline import PIPELINE_FILE, HarPipeline
    from tinyhar.models.trees import MODEL_KINDS, TreeEnsembleClassifier

_LAZY = {
    "HarPipeline": "tinyhar.models.pipeline",
    "PIPELINE_FILE": "tinyhar.models.pipeline",
    "MODEL_KINDS": "tinyhar.models.trees",
    "TreeEnsembleClassifier": "tinyhar.models.trees",
    "NeuralNetClassifier": "tinyhar.models.nn",
    "PRESETS": "tinyhar.models.nn",
    "make_estimator": "tinyhar.models.nn",
}

__all__ = [
    "MODEL_KINDS",
    "PIPELINE_FILE",
    "PRESETS",
    "HarPipeline",
    "NeuralNetClassifier",
    "TreeEnsembleClassifier",
    "make_estimator",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tinyhar.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

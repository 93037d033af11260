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

from tinyhar.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "tinyhar.models.pipeline": ("HarPipeline", "PIPELINE_FILE"),
    "tinyhar.models.trees": ("MODEL_KINDS", "TreeEnsembleClassifier"),
    "tinyhar.models.nn": ("NeuralNetClassifier", "PRESETS", "make_estimator"),
})

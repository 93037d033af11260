"""Small neural networks on raw windows (optional: ``pip install 'tinyhar[deep]'``).

- :class:`NeuralNetClassifier`: scikit-learn classifier training a 1-D CNN,
  LSTM, BiLSTM, GRU or TCN (:mod:`.architectures`) on windows of shape
  ``(n_windows, n_samples, n_channels)``;
- :func:`make_estimator` / :data:`PRESETS`: recipes of known tutorials and
  tinyhar's small CNN (:mod:`.presets`);
- :class:`EmbeddingFeatures`, :class:`FusedFeatures`, :func:`embeddings_frame`:
  network embeddings as features (:mod:`.embeddings`).

Importing this package does not import torch; training, predicting or loading
a network does, and raises :class:`~tinyhar.errors.TinyharError` with the
install command when torch is missing.
"""

from __future__ import annotations

from tinyhar.models.nn.embeddings import EmbeddingFeatures, FusedFeatures, embeddings_frame
from tinyhar.models.nn.estimator import InputShapeError, NeuralNetClassifier, NoGroupsWarning
from tinyhar.models.nn.presets import PRESETS, Preset, get_preset, make_estimator

__all__ = [
    "PRESETS",
    "EmbeddingFeatures",
    "FusedFeatures",
    "InputShapeError",
    "NeuralNetClassifier",
    "NoGroupsWarning",
    "Preset",
    "embeddings_frame",
    "get_preset",
    "make_estimator",
]

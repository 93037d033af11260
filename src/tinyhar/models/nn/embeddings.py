"""Network embeddings as features, alone or fused with hand-crafted features.

A trained :class:`~tinyhar.models.nn.NeuralNetClassifier` cut before its
linear head maps each window to a vector (its penultimate layer). Used as a
feature block next to hand-crafted (spectral, statistical) features, it lets a
tree ensemble or a small MLP learn from both -- the "learned embeddings as a
processing block" workflow of Edge Impulse's studio, here with scikit-learn
transformers:

- :class:`EmbeddingFeatures` maps windows to embeddings;
- :class:`FusedFeatures` concatenates the output of any window transformer
  with the embeddings;
- :func:`embeddings_frame` makes a table (one row per window) for
  ``tinyhar embed``.

This module does not import torch itself; fitting or transforming does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from tinyhar.core.ids import repeated_id
from tinyhar.errors import TinyharError


def _windows(X: Any) -> np.ndarray:
    """The window array of a WindowSet, or ``X`` itself."""
    return getattr(X, "X", X)


def _is_fitted(estimator: Any) -> bool:
    try:
        check_is_fitted(estimator)
    except Exception:
        return False
    return True


class EmbeddingFeatures(TransformerMixin, BaseEstimator):
    """Transformer: windows ``(n_windows, n_samples, n_channels)`` to embeddings.

    Parameters
    ----------
    estimator : NeuralNetClassifier
        A network. If it is already fitted it is used as is (``fit`` does not
        retrain it, so it must have been trained on other data than the data
        you evaluate on); otherwise ``fit`` trains a clone on ``(X, y, groups)``.
    refit : bool
        Train a clone in ``fit`` even when ``estimator`` is fitted.

    Attributes
    ----------
    estimator_ : NeuralNetClassifier
        The fitted network used by :meth:`transform`.
    n_features_out_ : int
        Embedding length.

    Raises
    ------
    TinyharError
        ``fit`` without labels for an unfitted network; wrong window shapes
        (from the network).

    Notes
    -----
    ``sklearn.base.clone`` (used by ``cross_validate`` and friends) resets a
    fitted network to its parameters, so inside cross-validation the network
    is retrained on each fold's training part -- as it must be to keep test
    folds unseen. Pass ``groups`` through ``fit`` so that its early stopping
    validates on whole subjects.
    """

    def __init__(self, estimator: Any = None, refit: bool = False) -> None:
        self.estimator = estimator
        self.refit = refit

    def fit(self, X: Any, y: Any = None, groups: Any = None) -> EmbeddingFeatures:
        """Use the fitted network, or train a clone on ``X``, labels ``y`` and subjects ``groups``.

        Returns
        -------
        self
        """
        if self.estimator is None:
            raise TinyharError("EmbeddingFeatures needs a NeuralNetClassifier (estimator=...)")
        if _is_fitted(self.estimator) and not self.refit:
            self.estimator_ = self.estimator
        else:
            if y is None:
                raise TinyharError(
                    "EmbeddingFeatures got an untrained network and no labels: pass y "
                    "(and groups) to fit, or a fitted network"
                )
            self.estimator_ = clone(self.estimator).fit(_windows(X), y, groups=groups)
        self.n_features_out_ = int(self.estimator_.embedding_dim_)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Embeddings of windows ``X``.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_windows, n_samples, n_channels), or WindowSet

        Returns
        -------
        numpy.ndarray of float32, shape (n_windows, n_features_out_)
        """
        check_is_fitted(self, "estimator_")
        return self.estimator_.embed(_windows(X))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names ``emb_0`` ... ``emb_{k-1}``."""
        check_is_fitted(self, "estimator_")
        return np.asarray([f"emb_{i}" for i in range(self.n_features_out_)], dtype=object)


class FusedFeatures(TransformerMixin, BaseEstimator):
    """Hand-crafted features and network embeddings side by side.

    ``transform(X)`` returns ``[features.transform(X), embeddings.transform(X)]``
    concatenated along columns, so a downstream classifier (trees, MLP) sees
    both. Both parts receive the same ``X`` (a window array, or a WindowSet
    when the hand-crafted transformer needs one; the embedding part uses its
    ``X`` array).

    Parameters
    ----------
    features : transformer
        Any scikit-learn transformer of windows to a 2-D feature matrix
        ``(n_windows, n_features)`` (e.g. tinyhar's feature extractor).
    embeddings : EmbeddingFeatures or NeuralNetClassifier
        The embedding block (a bare network is wrapped); a fitted network is
        used as is, an unfitted one is trained in ``fit``.

    Attributes
    ----------
    features_, embeddings_ : fitted transformers
    n_hand_features_, n_embedding_features_ : int
        Column counts of the two blocks (hand-crafted first).

    Raises
    ------
    TinyharError
        If the two blocks do not return the same number of rows.
    """

    def __init__(self, features: Any = None, embeddings: Any = None) -> None:
        self.features = features
        self.embeddings = embeddings

    def fit(self, X: Any, y: Any = None, groups: Any = None) -> FusedFeatures:
        """Fit both blocks on windows ``X`` (labels ``y`` and subjects ``groups`` for the network).

        Returns
        -------
        self
        """
        if self.features is None or self.embeddings is None:
            raise TinyharError("FusedFeatures needs both features=... and embeddings=...")
        self.features_ = clone(self.features).fit(X, y)
        emb = self.embeddings
        if not isinstance(emb, EmbeddingFeatures):
            emb = EmbeddingFeatures(emb)
        # a new wrapper around the same network: clone() would reset a fitted network
        self.embeddings_ = EmbeddingFeatures(emb.estimator, refit=emb.refit).fit(
            X, y, groups=groups
        )
        first = X.subset(np.arange(1)) if hasattr(X, "subset") else X[:1]
        hand = np.asarray(self.features_.transform(first))
        self.n_hand_features_ = int(hand.reshape(hand.shape[0], -1).shape[1])
        self.n_embedding_features_ = int(self.embeddings_.n_features_out_)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Concatenated features, shape (n_windows, n_hand_features_ + n_embedding_features_).

        Returns
        -------
        numpy.ndarray of float64
        """
        check_is_fitted(self, "embeddings_")
        hand = np.asarray(self.features_.transform(X), dtype=np.float64)
        hand = hand.reshape(hand.shape[0], -1)
        emb = np.asarray(self.embeddings_.transform(X), dtype=np.float64)
        if hand.shape[0] != emb.shape[0]:
            raise TinyharError(
                f"the feature block returned {hand.shape[0]} rows and the embedding block "
                f"{emb.shape[0]}: both must return one row per window"
            )
        return np.hstack([hand, emb])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Hand-crafted feature names (``feat_i`` if unknown) followed by ``emb_i``."""
        check_is_fitted(self, "embeddings_")
        try:
            hand = list(self.features_.get_feature_names_out())
        except (AttributeError, TypeError, ValueError):
            hand = [f"feat_{i}" for i in range(self.n_hand_features_)]
        if len(hand) != self.n_hand_features_:
            hand = [f"feat_{i}" for i in range(self.n_hand_features_)]
        return np.asarray(hand + list(self.embeddings_.get_feature_names_out()), dtype=object)


def embeddings_frame(estimator: Any, windows: Any) -> pd.DataFrame:
    """One row per window with its subject, session, label and embedding.

    Parameters
    ----------
    estimator : NeuralNetClassifier
        A fitted network.
    windows : WindowSet
        Windows with the shape the network was trained on; a bare array of
        shape (n_windows, n_samples, n_channels) is accepted too (subject,
        session and label are then empty strings).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject``, ``session``, ``label`` (str) and ``emb_0`` ...
        ``emb_{k-1}`` (float32), ``k = estimator.embedding_dim_``.

    Raises
    ------
    TinyharError
        Unfitted network or windows of the wrong shape.
    """
    if not _is_fitted(estimator):
        raise TinyharError("embeddings_frame needs a trained network: fit it or load a model")
    emb = estimator.embed(_windows(windows))
    n = emb.shape[0]

    def column(name: str) -> np.ndarray:
        values = getattr(windows, name, None)
        if values is None:
            return repeated_id("", n)
        return np.asarray([str(v) for v in values], dtype=object)

    frame = pd.DataFrame(
        {"subject": column("subject"), "session": column("session"), "label": column("y")}
    )
    emb_frame = pd.DataFrame(emb, columns=[f"emb_{i}" for i in range(emb.shape[1])])
    return pd.concat([frame, emb_frame], axis=1)

"""The model kinds tinyhar trains, named once.

``model.kind`` of a training configuration is one of :data:`KINDS`:
a tree ensemble (:data:`TREE_KINDS`, :class:`~tinyhar.models.trees.TreeEnsembleClassifier`
on hand-crafted features) or a small neural network on raw windows
(:data:`NETWORK_KINDS`, the architectures of :mod:`tinyhar.models.nn.architectures`;
needs ``pip install 'tinyhar[deep]'``).

This module imports nothing, so that the configuration and ``tinyhar --help``
can list the kinds without importing scikit-learn or torch.
"""

from __future__ import annotations

TREE_KINDS = ("random_forest", "extra_trees")
"""Tree ensembles: random forest (Breiman 2001) and extremely randomized trees
(Geurts, Ernst, Wehenkel 2006)."""

NETWORK_KINDS = ("cnn1d", "lstm", "bilstm", "gru", "tcn")
"""Neural-network architectures (:mod:`tinyhar.models.nn.architectures`)."""

KINDS = TREE_KINDS + NETWORK_KINDS
"""Every ``model.kind``, trees first."""

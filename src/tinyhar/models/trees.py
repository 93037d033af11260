"""Tree ensembles with an explicit size budget, stored as a microcontroller would store them.

:class:`TreeEnsembleClassifier` trains a scikit-learn random forest
(Breiman 2001, Machine Learning 45:5-32) or extremely randomized trees
(Geurts, Ernst, Wehenkel 2006, Machine Learning 63:3-42) under a budget of
trees, depth and minimum leaf size, then *flattens* the ensemble into the
compact arrays a device uses, and predicts from those arrays:

- decision nodes (struct of arrays): ``feature`` (uint8, or uint16 when there
  are more than 256 features), ``threshold`` (float32), ``left``/``right``
  (int16; >= 0 is a node index, < 0 is ``-(leaf_index + 1)``);
- leaves: class probabilities quantised to ``leaf_bits``-bit unsigned integers
  (``round(p * (2**leaf_bits - 1))``), duplicates removed (as in emlearn's
  ``remove_duplicate_leaves``), one uint8 per class;
- roots: one int16 node index per tree.

The ensemble's score for class ``k`` is the integer sum of the trees'
quantised leaf values; the prediction is the first class with the highest
score. Prediction walks these arrays (vectorised over windows and trees); the
scikit-learn ensemble is only needed to build them, so a model saved with
:meth:`TreeEnsembleClassifier.to_state` (arrays and parameters, no pickle)
predicts identically after :meth:`TreeEnsembleClassifier.from_state`.
Integer sums are exact on every platform, so a device that stores the same
arrays predicts the same class as this estimator. Thresholds are stored
as the largest float32 not above scikit-learn's float64 threshold; since the
features are float32, ``x <= threshold32`` holds exactly when scikit-learn's
``x <= threshold64`` does.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from tinyhar.errors import ConfigError, DataFormatError
from tinyhar.modelfile import StateReader
from tinyhar.models.kinds import TREE_KINDS
from tinyhar.validation import check_features

MODEL_KINDS = dict(zip(TREE_KINDS, (RandomForestClassifier, ExtraTreesClassifier), strict=True))
"""Supported ensemble kinds (:data:`tinyhar.models.kinds.TREE_KINDS`) and their
scikit-learn classes."""


def float32_floor(values: np.ndarray) -> np.ndarray:
    """Largest float32 not greater than each float64 value.

    Parameters
    ----------
    values : numpy.ndarray of float64, any shape

    Returns
    -------
    numpy.ndarray of float32, same shape
    """
    values = np.asarray(values, dtype=np.float64)
    f32 = values.astype(np.float32)
    above = f32.astype(np.float64) > values
    f32[above] = np.nextafter(f32[above], np.float32(-np.inf))
    return f32


def _encode_labels(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct labels and each window's index among them.

    Hashing (:func:`pandas.factorize`) instead of sorting every label, which
    for class names (Python strings) costs seconds on millions of windows;
    the classes come out in :func:`numpy.unique`'s order, as scikit-learn's.

    Parameters
    ----------
    y : numpy.ndarray, shape (n_windows,)
        Class per window: names (str) or integers.

    Returns
    -------
    classes : numpy.ndarray, shape (n_classes,)
        Sorted distinct labels (object array of str for names, else y's dtype).
    codes : numpy.ndarray of int64, shape (n_windows,)
        Index of each window's label in ``classes``.

    Raises
    ------
    DataFormatError
        Missing labels, or labels that are not classes (continuous values).
    """
    import pandas as pd

    if y.dtype.kind in "US":  # class names stay Python strings (object arrays)
        y = y.astype(object)
    codes, classes = pd.factorize(y, sort=True, use_na_sentinel=True)
    classes = np.asarray(classes, dtype=y.dtype)
    try:
        if (codes < 0).any():
            raise ValueError("a label is missing (NaN or None)")
        check_classification_targets(classes)  # on the distinct labels: same verdict, faster
    except ValueError as exc:
        raise DataFormatError("labels", f"{exc}; give one class name per window") from None
    return classes, codes.astype(np.int64, copy=False)


def _class_weight_by_code(class_weight, classes: np.ndarray):
    """``class_weight`` for trees fitted on class codes: a mapping's keys become codes.

    Raises
    ------
    ConfigError
        A key of the mapping is not one of the classes.
    """
    if not isinstance(class_weight, dict):
        return class_weight
    index = {c: i for i, c in enumerate(classes.tolist())}
    unknown = [k for k in class_weight if k not in index]
    if unknown:
        raise ConfigError(
            f"class_weight: {unknown} are not classes of the training data "
            f"({classes.tolist()}); give weights for these classes only"
        )
    return {index[k]: float(w) for k, w in class_weight.items()}


class TreeEnsembleClassifier(ClassifierMixin, BaseEstimator):
    """Random forest or extra trees under a size budget, predicting from device arrays.

    Parameters
    ----------
    kind : {"random_forest", "extra_trees"}
        Ensemble type.
    n_estimators : int
        Number of trees (budget).
    max_depth : int or None
        Maximum depth of each tree (budget).
    min_samples_leaf : int
        Minimum number of training windows per leaf (budget).
    max_features : {"sqrt", "log2"}, int, float or None
        Features considered per split (scikit-learn semantics).
    class_weight : {"balanced", "balanced_subsample"}, dict or None
        Class balancing (scikit-learn semantics; a dict maps class to weight).
    leaf_bits : int, 1..8
        Bits per quantised leaf probability.
    random_state : int
        Seed.
    n_jobs : int or None
        Parallel jobs for fitting.

    Attributes
    ----------
    classes_ : numpy.ndarray of str, shape (n_classes,)
    n_features_in_ : int
        Number of features seen in ``fit``.
    estimator_ : RandomForestClassifier or ExtraTreesClassifier
        The fitted scikit-learn ensemble, for inspection right after ``fit``
        only: it is not saved, and nothing (prediction, size, export) uses it.
        It is fitted on class codes: its class ``i`` is ``classes_[i]``.
    feature_, threshold_, left_, right_ : numpy.ndarray, shape (n_nodes,)
        Flattened decision nodes (see the module docstring); a child index
        is always larger than its parent's, so every walk ends.
    leaves_ : numpy.ndarray of uint8, shape (n_leaves, n_classes)
        Distinct quantised leaf probabilities.
    roots_ : numpy.ndarray of int16, shape (n_estimators,)
    tree_depths_ : numpy.ndarray of int32, shape (n_estimators,)
        Depth of each tree (scikit-learn's ``max_depth``; 0 for a single leaf).
    feature_importances_ : numpy.ndarray of float64, shape (n_features,)
        Mean decrease in impurity per feature (scikit-learn's).

    Raises
    ------
    ConfigError
        On an unknown kind or an out-of-range budget (at ``fit``).
    """

    def __init__(
        self,
        kind: str = "random_forest",
        n_estimators: int = 10,
        max_depth: int | None = 10,
        min_samples_leaf: int = 1,
        max_features: str | int | float | None = "sqrt",
        class_weight: str | None = None,
        leaf_bits: int = 8,
        random_state: int = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.kind = kind
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.class_weight = class_weight
        self.leaf_bits = leaf_bits
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ConfigError(
                f"model kind {self.kind!r} unknown; choose one of {list(MODEL_KINDS)}"
            )
        if not 1 <= int(self.n_estimators) <= 1000:
            raise ConfigError(f"n_estimators must be in 1..1000, got {self.n_estimators}")
        if self.max_depth is not None and not 1 <= int(self.max_depth) <= 30:
            raise ConfigError(f"max_depth must be in 1..30 or null, got {self.max_depth}")
        if int(self.min_samples_leaf) < 1:
            raise ConfigError(f"min_samples_leaf must be >= 1, got {self.min_samples_leaf}")
        if not 1 <= int(self.leaf_bits) <= 8:
            raise ConfigError(f"leaf_bits must be in 1..8, got {self.leaf_bits}")
        if not (self.class_weight in (None, "balanced", "balanced_subsample")
                or isinstance(self.class_weight, dict)):
            raise ConfigError(
                f"class_weight must be null, 'balanced', 'balanced_subsample' or a mapping "
                f"class -> weight, got {self.class_weight!r}"
            )

    def fit(self, X: np.ndarray, y: np.ndarray) -> TreeEnsembleClassifier:
        """Fit the ensemble and flatten it.

        Parameters
        ----------
        X : array-like, shape (n_windows, n_features)
            Feature matrix (cast to float32, as scikit-learn trees do).
        y : array-like of str (or int), shape (n_windows,)
            Class per window.

        Returns
        -------
        TreeEnsembleClassifier
            ``self``.

        Raises
        ------
        ConfigError
            Invalid budget.
        DataFormatError
            Features that are not a finite numeric matrix, labels of another
            length or continuous labels (:func:`tinyhar.validation.check_features`).
        """
        self._check_params()
        X, y = check_features(self, X, y, reset=True)
        classes, codes = _encode_labels(np.asarray(y))
        est = MODEL_KINDS[self.kind](
            n_estimators=int(self.n_estimators),
            max_depth=None if self.max_depth is None else int(self.max_depth),
            min_samples_leaf=int(self.min_samples_leaf),
            max_features=self.max_features,
            class_weight=_class_weight_by_code(self.class_weight, classes),
            random_state=int(self.random_state),
            n_jobs=self.n_jobs,
        )
        est.fit(X, codes)  # the trees see class codes 0..n_classes-1, in `classes` order
        self.estimator_ = est
        self.classes_ = classes
        self._flatten()
        self.tree_depths_ = np.asarray(
            [e.tree_.max_depth for e in est.estimators_], dtype=np.int32
        )
        self.feature_importances_ = np.asarray(est.feature_importances_, dtype=np.float64)
        return self

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "leaves_")
        return check_features(self, X, reset=False)

    def _flatten(self) -> None:
        """Build the device arrays from the fitted scikit-learn trees."""
        scale = (1 << int(self.leaf_bits)) - 1
        features, thresholds, lefts, rights, roots = [], [], [], [], []
        leaf_index: dict[bytes, int] = {}
        leaves: list[np.ndarray] = []
        offset = 0
        for tree in self.estimator_.estimators_:
            t = tree.tree_
            internal = np.flatnonzero(t.children_left >= 0)
            node_pos = np.full(t.node_count, -1, dtype=np.int64)
            node_pos[internal] = np.arange(internal.size) + offset
            leaf_of_node = np.full(t.node_count, -1, dtype=np.int64)
            value = t.value[:, 0, :]
            proba = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-300)
            for node in np.flatnonzero(t.children_left < 0):
                q = np.round(proba[node] * scale).astype(np.uint8)
                key = q.tobytes()
                if key not in leaf_index:
                    leaf_index[key] = len(leaves)
                    leaves.append(q)
                leaf_of_node[node] = leaf_index[key]

            def ref(child: int, node_pos=node_pos, leaf_of_node=leaf_of_node) -> int:
                return (
                    int(node_pos[child]) if node_pos[child] >= 0 else -int(leaf_of_node[child]) - 1
                )

            if internal.size == 0:  # a single-leaf tree: encode as one node with equal children
                features.append(0)
                thresholds.append(0.0)
                lefts.append(-int(leaf_of_node[0]) - 1)
                rights.append(-int(leaf_of_node[0]) - 1)
                roots.append(offset)
                offset += 1
            else:
                for node in internal:
                    features.append(int(t.feature[node]))
                    thresholds.append(float(t.threshold[node]))
                    lefts.append(ref(t.children_left[node]))
                    rights.append(ref(t.children_right[node]))
                roots.append(int(node_pos[0]))
                offset += internal.size
        if offset >= 2**15 or len(leaves) >= 2**15:
            raise ConfigError(
                f"the ensemble has {offset} decision nodes / {len(leaves)} leaves, more than "
                "int16 indices allow; lower n_estimators or max_depth"
            )
        self.feature_ = np.asarray(
            features, dtype=np.uint16 if self.n_features_in_ > 256 else np.uint8
        )
        self.threshold_ = float32_floor(np.asarray(thresholds))
        self.left_ = np.asarray(lefts, dtype=np.int16)
        self.right_ = np.asarray(rights, dtype=np.int16)
        self.roots_ = np.asarray(roots, dtype=np.int16)
        self.leaves_ = np.asarray(leaves, dtype=np.uint8).reshape(len(leaves), len(self.classes_))

    def decision_scores(self, X: np.ndarray, chunk: int = 8192) -> np.ndarray:
        """Integer class scores: the sum over trees of quantised leaf probabilities.

        Walks the flattened float32 arrays for all windows and trees at once
        (``x[feature] <= threshold`` goes left), as a device does.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_windows, n_features)
        chunk : int
            Windows walked together (memory only; no effect on the result).

        Returns
        -------
        numpy.ndarray of int32, shape (n_windows, n_classes)
        """
        X = self._check_X(X)  # NotFittedError before fit
        feature = self.feature_.astype(np.intp)
        left, right = self.left_.astype(np.intp), self.right_.astype(np.intp)
        roots = self.roots_.astype(np.intp)
        n_trees = len(roots)
        scores = np.zeros((X.shape[0], len(self.classes_)), dtype=np.int32)
        for a in range(0, X.shape[0], max(1, int(chunk))):
            Xc = X[a : a + chunk]
            node = np.tile(roots, len(Xc))  # (window, tree) pairs, row-major
            window = np.repeat(np.arange(len(Xc)), n_trees)
            active = np.arange(node.size)
            while active.size:  # children have larger indices than parents: this ends
                nd = node[active]
                go_left = Xc[window[active], feature[nd]] <= self.threshold_[nd]
                nxt = np.where(go_left, left[nd], right[nd])
                node[active] = nxt
                active = active[nxt >= 0]
            leaf = (-node - 1).reshape(len(Xc), n_trees)
            scores[a : a + chunk] = self.leaves_[leaf].sum(axis=1, dtype=np.int32)
        return scores

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities from the quantised leaves, shape (n_windows, n_classes)."""
        scores = self.decision_scores(X).astype(np.float64)
        return scores / np.maximum(scores.sum(axis=1, keepdims=True), 1.0)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class per window (first class with the highest integer score)."""
        scores = self.decision_scores(X)
        return self.classes_[np.argmax(scores, axis=1)]

    def predict_flat(self, X: np.ndarray) -> np.ndarray:
        """Predict by walking the flattened float32 arrays, as a device does (slow, reference).

        Parameters
        ----------
        X : numpy.ndarray, shape (n_windows, n_features)

        Returns
        -------
        numpy.ndarray of str, shape (n_windows,)
        """
        X = self._check_X(X)
        out = np.empty(X.shape[0], dtype=object)
        for i, x in enumerate(X):
            scores = np.zeros(len(self.classes_), dtype=np.int64)
            for root in self.roots_:
                node = int(root)
                while node >= 0:
                    go_left = x[self.feature_[node]] <= self.threshold_[node]
                    node = int(self.left_[node] if go_left else self.right_[node])
                scores += self.leaves_[-node - 1]
            out[i] = self.classes_[int(np.argmax(scores))]
        return out

    def size(self) -> dict[str, int]:
        """Model size as stored on a device.

        Returns
        -------
        dict
            ``trees``; ``nodes`` (decision nodes); ``leaves`` (distinct quantised
            leaves); ``max_depth`` (deepest tree); ``bytes``: tinyhar's layout
            (feature index 1 or 2 bytes + float32 threshold + two int16 children
            per node, ``n_classes`` bytes per leaf, 2 bytes per root);
            ``emlearn_bytes``: emlearn's loadable int16 layout (8-byte
            ``EmlTreesNode`` per node, 4 bytes per root, ``n_classes`` bytes per
            leaf; its int16 thresholds truncate float features).
        """
        check_is_fitted(self, "leaves_")
        n_nodes = len(self.threshold_)
        n_leaves, n_classes = self.leaves_.shape
        per_node = self.feature_.itemsize + 4 + 2 + 2
        return {
            "trees": len(self.roots_),
            "nodes": int(n_nodes),
            "leaves": int(n_leaves),
            "max_depth": int(self.tree_depths_.max()),
            "bytes": int(n_nodes * per_node + n_leaves * n_classes + 2 * len(self.roots_)),
            "emlearn_bytes": int(n_nodes * 8 + n_leaves * n_classes + 4 * len(self.roots_)),
        }

    # ------------------------------------------------------------------ storage
    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The fitted model as JSON-serialisable values and numeric arrays (no pickle).

        Returns
        -------
        meta : dict
            ``params`` (constructor parameters), ``classes`` (list of str),
            ``n_features_in``.
        arrays : dict of str to numpy.ndarray
            ``feature``, ``threshold``, ``left``, ``right`` (n_nodes,),
            ``leaves`` (n_leaves, n_classes), ``roots``, ``tree_depths``
            (n_estimators,), ``feature_importances`` (n_features,).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the model is not fitted.
        """
        check_is_fitted(self, "leaves_")
        params = self.get_params()
        if isinstance(params["class_weight"], dict):  # JSON: keys are texts
            params["class_weight"] = {str(k): float(v) for k, v in params["class_weight"].items()}
        meta = {
            "params": params,
            "classes": [str(c) for c in self.classes_],
            "n_features_in": int(self.n_features_in_),
        }
        arrays = {
            "feature": self.feature_,
            "threshold": self.threshold_,
            "left": self.left_,
            "right": self.right_,
            "leaves": self.leaves_,
            "roots": self.roots_,
            "tree_depths": self.tree_depths_,
            "feature_importances": self.feature_importances_,
        }
        return meta, arrays

    @classmethod
    def from_state(cls, state: StateReader) -> TreeEnsembleClassifier:
        """Rebuild a fitted model from :meth:`to_state`'s values, checking every array.

        Parameters
        ----------
        state : StateReader
            The model's section of a model file (:mod:`tinyhar.modelfile`).

        Returns
        -------
        TreeEnsembleClassifier
            Predicts, sizes and exports exactly like the saved model
            (``estimator_`` is absent).

        Raises
        ------
        tinyhar.modelfile.ModelFileError
            Missing entries, wrong dtypes or shapes, out-of-range indices,
            invalid parameters.
        """
        model = cls(**state.params(cls))
        try:
            model._check_params()
        except (ConfigError, TypeError, ValueError) as exc:
            raise state.error(f"invalid tree-model parameters: {exc}") from None
        classes = state.strings("classes")
        n_features = state.value("n_features_in", "int")
        if len(classes) < 1 or n_features < 1:
            raise state.error("the tree model has no classes or no features")
        n_trees = int(model.n_estimators)
        threshold = state.array("threshold", np.float32, (None,))
        n_nodes = len(threshold)
        feature = state.array(
            "feature", np.uint16 if n_features > 256 else np.uint8, (n_nodes,)
        )
        left = state.array("left", np.int16, (n_nodes,))
        right = state.array("right", np.int16, (n_nodes,))
        leaves = state.array("leaves", np.uint8, (None, len(classes)))
        roots = state.array("roots", np.int16, (n_trees,))
        depths = state.array("tree_depths", np.int32, (n_trees,))
        importances = state.array("feature_importances", np.float64, (n_features,))
        here = np.arange(n_nodes)
        problems = {
            "a node reads a feature the model does not have": (feature >= n_features).any(),
            "a threshold is not finite": not np.isfinite(threshold).all(),
            "a child index does not point after its node": any(
                ((c >= 0) & (c <= here)).any() or (c >= n_nodes).any() for c in (left, right)
            ),
            "a leaf index is out of range": any(
                (-c.astype(np.int64) - 1 >= len(leaves)).any() for c in (left, right)
            ),
            "a root index is out of range": ((roots < 0) | (roots >= n_nodes)).any(),
            "a leaf value exceeds leaf_bits": (leaves > (1 << int(model.leaf_bits)) - 1).any(),
            "a tree depth is out of range": ((depths < 0) | (depths > n_nodes)).any(),
            "a feature importance is not finite": not np.isfinite(importances).all(),
        }
        for problem, found in problems.items():
            if found:
                raise state.error(f"inconsistent tree model: {problem}")
        model.classes_ = np.asarray(classes, dtype=object)
        model.n_features_in_ = int(n_features)
        model.feature_, model.threshold_ = feature, threshold
        model.left_, model.right_, model.roots_, model.leaves_ = left, right, roots, leaves
        model.tree_depths_, model.feature_importances_ = depths, importances
        return model

"""Size-budgeted tree ensembles: device arrays predict exactly like the estimator."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from tinyhar.errors import ConfigError, DataFormatError
from tinyhar.models.trees import TreeEnsembleClassifier, float32_floor


def _data(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12)).astype(np.float32)
    y = np.where(X[:, 0] + X[:, 1] > 0, "walk", np.where(X[:, 2] > 0.3, "sit", "lay"))
    return X, y.astype(object)


@pytest.mark.parametrize("kind", ["random_forest", "extra_trees"])
def test_flat_arrays_match_sklearn(kind):
    X, y = _data()
    m = TreeEnsembleClassifier(kind=kind, n_estimators=7, max_depth=6, random_state=3)
    m.fit(X[:1000], y[:1000])
    pred = m.predict(X[1000:])
    assert (pred == m.predict_flat(X[1000:])).all()
    # quantised leaves change almost nothing against scikit-learn's float vote
    assert (pred == m.classes_[m.estimator_.predict(X[1000:])]).mean() > 0.99
    assert (pred == y[1000:]).mean() > 0.6
    size = m.size()
    assert size["trees"] == 7 and size["max_depth"] <= 6
    assert size["nodes"] == len(m.threshold_)
    assert size["bytes"] == size["nodes"] * 9 + size["leaves"] * 3 + 2 * 7


@pytest.mark.parametrize("kind", ["random_forest", "extra_trees"])
def test_scores_from_device_arrays_equal_quantised_sklearn_leaves(kind):
    # reference: scikit-learn's own leaf of each tree, its class distribution quantised
    X, y = _data()
    m = TreeEnsembleClassifier(kind=kind, n_estimators=5, max_depth=7, leaf_bits=6,
                               random_state=1).fit(X[:1000], y[:1000])
    leaf_ids = m.estimator_.apply(X[1000:])
    expected = np.zeros((500, 3), dtype=np.int64)
    for j, tree in enumerate(m.estimator_.estimators_):
        value = tree.tree_.value[leaf_ids[:, j], 0, :]
        expected += np.round(value / value.sum(axis=1, keepdims=True) * 63).astype(np.int64)
    np.testing.assert_array_equal(m.decision_scores(X[1000:]), expected)
    np.testing.assert_array_equal(m.decision_scores(X[1000:], chunk=7), expected)
    assert list(m.tree_depths_) == [e.tree_.max_depth for e in m.estimator_.estimators_]
    np.testing.assert_array_equal(m.feature_importances_, m.estimator_.feature_importances_)
    assert m.feature_importances_.shape == (X.shape[1],)
    assert abs(m.feature_importances_.sum() - 1.0) < 1e-9


def test_budget_is_respected_and_reproducible():
    X, y = _data()
    a = TreeEnsembleClassifier(n_estimators=3, max_depth=4, min_samples_leaf=20).fit(X, y)
    b = TreeEnsembleClassifier(n_estimators=3, max_depth=4, min_samples_leaf=20).fit(X, y)
    assert a.size() == b.size() and (a.threshold_ == b.threshold_).all()
    assert a.size()["max_depth"] <= 4
    # a depth-4 tree has at most 15 decision nodes
    assert a.size()["nodes"] <= 3 * 15


def test_float32_threshold_compares_exactly():
    # a float64 midpoint between two adjacent float32 values rounds up in float32;
    # the stored threshold must not, or x == upper would go left on a device
    lo = np.float32(1.0)
    hi = np.nextafter(lo, np.float32(2.0))
    mid = (float(lo) + float(hi)) / 2
    t = float32_floor(np.array([mid]))[0]
    assert t == lo
    assert not (hi <= t) and (lo <= t)
    assert float32_floor(np.array([5.5]))[0] == np.float32(5.5)


def test_threshold_between_integers():
    # integer-valued feature: a split at 5.5 must send 5 left and 6 right
    X = np.repeat(np.arange(11, dtype=np.float32), 20)[:, None]
    y = np.where(X[:, 0] <= 5, "low", "high").astype(object)
    m = TreeEnsembleClassifier(n_estimators=1, max_depth=1, max_features=None, random_state=0).fit(
        X, y
    )
    assert m.threshold_[0] == np.float32(5.5)
    out = m.predict_flat(np.array([[5.0], [6.0]], dtype=np.float32))
    assert list(out) == ["low", "high"]


def test_class_balancing_changes_the_model():
    X, y = _data()
    plain = TreeEnsembleClassifier(n_estimators=3, max_depth=3).fit(X, y)
    balanced = TreeEnsembleClassifier(n_estimators=3, max_depth=3, class_weight="balanced")
    balanced.fit(X, y)
    assert not np.array_equal(plain.leaves_, balanced.leaves_)


def test_bad_budget_and_inputs():
    X, y = _data(100)
    with pytest.raises(ConfigError, match="model kind"):
        TreeEnsembleClassifier(kind="boosting").fit(X, y)
    with pytest.raises(ConfigError, match="max_depth"):
        TreeEnsembleClassifier(max_depth=0).fit(X, y)
    m = TreeEnsembleClassifier(n_estimators=2).fit(X, y)
    with pytest.raises(DataFormatError, match="X has 5 features, but TreeEnsembleClassifier "
                       "is expecting 12 features"):
        m.predict(X[:, :5])
    bad = X.copy()
    bad[0, 3] = np.nan
    with pytest.raises(DataFormatError, match="column 3"):
        m.predict(bad)


# --------------------------------------------------------------------------- scikit-learn

@parametrize_with_checks([TreeEnsembleClassifier(n_estimators=3)])
def test_scikit_learn_estimator_checks(estimator, check):
    """Every scikit-learn estimator check applies to the tree ensemble, and it passes them all."""
    check(estimator)


def test_fitted_attributes_end_in_underscore_and_unfitted_use_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    X, y = _data(100)
    unfitted = TreeEnsembleClassifier(n_estimators=2)
    for call in (unfitted.predict, unfitted.predict_proba, unfitted.decision_scores,
                 unfitted.predict_flat):
        with pytest.raises(NotFittedError):
            call(X)
    m = TreeEnsembleClassifier(n_estimators=2).fit(X, y)
    assert m.feature_importances_.shape == (X.shape[1],)
    np.testing.assert_allclose(m.feature_importances_.sum(), 1.0, rtol=1e-6)
    assert not hasattr(m, "feature_importances")  # an attribute, not a method


def test_integer_labels_and_a_class_weight_mapping_round_trip(tmp_path):
    from tinyhar.modelfile import read_state_file, write_state_file

    X, y = _data(100)
    labels = np.searchsorted(np.unique(y), y)  # 0 .. n_classes - 1
    m = TreeEnsembleClassifier(n_estimators=3, class_weight={0: 2.0, 1: 1.0, 2: 1.0}).fit(
        X, labels)
    assert set(m.predict(X)) <= {0, 1, 2}
    meta, arrays = m.to_state()
    again = TreeEnsembleClassifier.from_state(
        read_state_file(write_state_file(tmp_path / "m.npz", {"model": meta},
                                         {f"model.{k}": v for k, v in arrays.items()}))
        .section("model"))
    np.testing.assert_array_equal(again.decision_scores(X), m.decision_scores(X))
    with pytest.raises(DataFormatError, match="labels: Unknown label type: continuous"):
        TreeEnsembleClassifier(n_estimators=2).fit(X, np.linspace(0, 1, len(X)))


def test_names_and_their_codes_grow_the_same_trees():
    # labels are encoded by hashing, in sorted order: names and their codes give one forest
    X, y = _data()
    names = TreeEnsembleClassifier(n_estimators=4, max_depth=6).fit(X, y)
    codes = np.searchsorted(np.array(["lay", "sit", "walk"]), y.astype(str))
    ints = TreeEnsembleClassifier(n_estimators=4, max_depth=6).fit(X, codes)
    assert names.classes_.tolist() == ["lay", "sit", "walk"]
    assert ints.classes_.tolist() == [0, 1, 2]
    for attr in ("feature_", "threshold_", "left_", "right_", "leaves_", "roots_"):
        np.testing.assert_array_equal(getattr(names, attr), getattr(ints, attr))


def test_class_weight_mapping_by_name():
    X, y = _data()
    weights = {"lay": 1.0, "sit": 5.0, "walk": 1.0}
    named = TreeEnsembleClassifier(n_estimators=3, max_depth=5, class_weight=weights).fit(X, y)
    codes = np.searchsorted(np.array(["lay", "sit", "walk"]), y.astype(str))
    coded = TreeEnsembleClassifier(n_estimators=3, max_depth=5,
                                   class_weight={0: 1.0, 1: 5.0, 2: 1.0}).fit(X, codes)
    np.testing.assert_array_equal(named.threshold_, coded.threshold_)
    with pytest.raises(ConfigError, match=r"\['run'\] are not classes"):
        TreeEnsembleClassifier(class_weight={"run": 2.0}).fit(X, y)


def test_missing_label_is_a_clear_error():
    X, y = _data(n=50)
    y[3] = None
    with pytest.raises(DataFormatError, match="label is missing"):
        TreeEnsembleClassifier(n_estimators=2).fit(X, y)

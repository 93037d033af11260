"""FeatureExtractor as a scikit-learn transformer: the estimator checks that apply to 3-D input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from tinyhar.errors import DataFormatError
from tinyhar.features import FeatureExtractor
from tinyhar.validation import DataTypeError

THREE_D = (
    "tinyhar's FeatureExtractor takes windows of shape (n_windows, n_samples, n_channels) "
    "and refuses the 2-D matrix this check fits on, with a DataFormatError naming that shape"
)
"""Why most scikit-learn checks cannot apply: they build 2-D (n_samples, n_features) data."""

EXPECTED_FAILED_CHECKS = {
    name: THREE_D
    for name in (
        "check_fit_score_takes_y",
        "check_estimators_overwrite_params",
        "check_dont_overwrite_parameters",
        "check_estimators_fit_returns_self",
        "check_readonly_memmap_input",
        "check_n_features_in_after_fitting",
        "check_positive_only_tag_during_fit",
        "check_estimators_dtypes",
        "check_dtype_object",
        "check_pipeline_consistency",
        "check_estimators_nan_inf",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_transformer_data_not_an_array",
        "check_transformer_general",
        "check_transformer_preserve_dtypes",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_fit2d_1sample",
        "check_fit2d_1feature",
        "check_dict_unchanged",
        "check_fit_idempotent",
        "check_fit_check_is_fitted",
        "check_n_features_in",
        "check_fit2d_predict1d",
    )
}
"""Checks expected to fail, each with its reason (scikit-learn's expected_failed_checks)."""


@parametrize_with_checks(
    [FeatureExtractor()], expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS
)
def test_scikit_learn_estimator_checks(estimator, check):
    """The checks that do not need 2-D data pass: parameters, cloning, tags, repr, sparse,
    complex and empty input are refused with scikit-learn's words."""
    check(estimator)


def _still(n: int, n_samples: int = 128) -> np.ndarray:
    X = np.zeros((n, n_samples, 6), np.float32)
    X[..., 2] = 1.0  # gravity on z, in g
    return X


def test_the_checks_listed_as_failing_do_fail_on_2d_input_only():
    """The reason is the input shape: the same calls on 3-D windows work (sample order and
    subsets give the same rows, refitting gives the same output)."""
    rng = np.random.default_rng(0)
    X = _still(6) + rng.normal(0, 0.05, (6, 128, 6)).astype(np.float32)
    fx = FeatureExtractor().fit(X)
    out = fx.transform(X)
    assert out.shape == (6, fx.n_features_out_) and out.dtype == np.float32
    np.testing.assert_array_equal(fx.transform(X[::-1]), out[::-1])
    np.testing.assert_array_equal(fx.transform(X[2:4]), out[2:4])
    np.testing.assert_array_equal(clone(fx).fit(X).transform(X), out)
    np.testing.assert_array_equal(FeatureExtractor().fit_transform(X.astype(np.float64)), out)
    np.testing.assert_array_equal(fx.transform(np.asfortranarray(X)), out)
    assert fx.n_features_in_ == 6 and fx.n_samples_in_ == 128
    with pytest.raises(DataFormatError, match=r"\(n_windows, n_samples, 6\)"):
        FeatureExtractor().fit(X[:, :, 0])


def test_transform_before_fit_raises_not_fitted_error():
    with pytest.raises(NotFittedError, match="not fitted"):
        FeatureExtractor().transform(_still(2))


def test_in_a_scikit_learn_pipeline_with_the_tree_ensemble():
    from tinyhar.models import TreeEnsembleClassifier

    rng = np.random.default_rng(1)
    X = _still(40) + rng.normal(0, 0.02, (40, 128, 6)).astype(np.float32)
    y = np.array(["still", "shake"] * 20, dtype=object)
    X[y == "shake", :, 0] += np.sin(np.arange(128) * 2 * np.pi * 5 / 50)  # 5 Hz, 1 g
    pipe = make_pipeline(FeatureExtractor(), TreeEnsembleClassifier(n_estimators=5))
    assert list(pipe.fit(X, y).predict(X)) == list(y)


def test_sparse_and_text_input_are_type_errors_that_stay_tinyhar_errors():
    import scipy.sparse

    with pytest.raises(DataTypeError, match="Sparse data was passed") as err:
        FeatureExtractor().fit(scipy.sparse.csr_matrix(np.zeros((4, 6))))
    assert isinstance(err.value, TypeError) and isinstance(err.value, DataFormatError)

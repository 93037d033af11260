"""Public names import from tinyhar.features."""

from __future__ import annotations


def test_the_input_contract_imports_from_tinyhar_features() -> None:
    import tinyhar.features as package
    from tinyhar.features import (
        INVALID_CLASS,
        MAX_ABS_INPUT,
        FeatureExtractor,
        invalid_windows,
        validity,
    )
    from tinyhar.features.extractor import FeatureExtractor as extractor

    assert FeatureExtractor is extractor
    assert (INVALID_CLASS, MAX_ABS_INPUT, invalid_windows) == (
        validity.INVALID_CLASS, validity.MAX_ABS_INPUT, validity.invalid_windows)
    assert all(hasattr(package, name) for name in package.__all__)

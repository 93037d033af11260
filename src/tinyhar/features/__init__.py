"""Hand-crafted, explainable features of sensor windows.

Every feature is computed from one window alone (float32, no statistic of the
data set), so that it can be reproduced on a microcontroller. Start with
:class:`FeatureExtractor` (a scikit-learn transformer) and
:func:`feature_catalog` (names, units, definitions and sources).
"""

from __future__ import annotations

from tinyhar.features.catalog import (
    DEFAULT_BANDS_HZ,
    DEFAULT_CHANNELS,
    FEATURE_GROUPS,
    FEATURE_SETS,
    FeatureInfo,
    feature_catalog,
)
from tinyhar.features.extractor import FeatureExtractor, extract_features
from tinyhar.features.filters import gravity_sos, lowpass_from_first_sample, split_gravity
from tinyhar.features.plan import FeaturePlan, build_plan
from tinyhar.features.stacking import stack_previous, stack_previous_names

__all__ = [
    "DEFAULT_BANDS_HZ",
    "DEFAULT_CHANNELS",
    "FEATURE_GROUPS",
    "FEATURE_SETS",
    "FeatureExtractor",
    "FeatureInfo",
    "FeaturePlan",
    "build_plan",
    "extract_features",
    "feature_catalog",
    "gravity_sos",
    "lowpass_from_first_sample",
    "split_gravity",
    "stack_previous",
    "stack_previous_names",
]

"""Hand-crafted, explainable features of sensor windows.

Every feature is computed from one window alone (float32, no statistic of the
data set), so that it can be reproduced on a microcontroller. Start with
:class:`FeatureExtractor` (a scikit-learn transformer) and
:func:`feature_catalog` (names, units, definitions and sources); :func:`invalid_windows` and
:data:`MAX_ABS_INPUT` state which windows tinyhar classifies (the input
contract shared with the C and MicroPython exports).
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
from tinyhar.features.validity import (
    INVALID_CLASS,
    MAX_ABS_INPUT,
    check_valid,
    describe_invalid,
    invalid_windows,
)

__all__ = [
    "DEFAULT_BANDS_HZ",
    "DEFAULT_CHANNELS",
    "FEATURE_GROUPS",
    "FEATURE_SETS",
    "INVALID_CLASS",
    "MAX_ABS_INPUT",
    "FeatureExtractor",
    "FeatureInfo",
    "FeaturePlan",
    "build_plan",
    "check_valid",
    "describe_invalid",
    "extract_features",
    "feature_catalog",
    "gravity_sos",
    "invalid_windows",
    "lowpass_from_first_sample",
    "split_gravity",
    "stack_previous",
    "stack_previous_names",
]

"""Hand-crafted, explainable features of sensor windows.

Every feature is computed from one window alone (float32, no statistic of the
data set), so that it can be reproduced on a microcontroller. Start with
:class:`FeatureExtractor` (a scikit-learn transformer) and
:func:`feature_catalog` (names, units, definitions and sources); :func:`invalid_windows` and
:data:`MAX_ABS_INPUT` state which windows tinyhar classifies (the input
contract shared with the C and MicroPython exports).

Names are imported on first use (:mod:`tinyhar.lazy`), so that a process that
only computes features (:mod:`tinyhar.features.engine`) does not import
scikit-learn.
"""

from __future__ import annotations

from tinyhar.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "tinyhar.features.catalog": ("DEFAULT_BANDS_HZ", "DEFAULT_CHANNELS", "FEATURE_GROUPS",
                                 "FEATURE_SETS", "FeatureInfo", "feature_catalog"),
    "tinyhar.features.extractor": ("FeatureExtractor",),
    "tinyhar.features.engine": ("PlanFeatures", "extract_features"),
    "tinyhar.features.filters": ("gravity_sos", "lowpass_from_first_sample", "split_gravity"),
    "tinyhar.features.plan": ("FeaturePlan", "build_plan"),
    "tinyhar.features.stacking": ("stack_previous", "stack_previous_names"),
    "tinyhar.features.validity": ("INVALID_CLASS", "MAX_ABS_INPUT", "check_valid",
                                  "describe_invalid", "invalid_windows"),
})

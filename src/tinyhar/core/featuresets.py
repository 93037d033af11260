"""The names of tinyhar's hand-crafted feature sets (the one list).

Kept here, with no import, so that :mod:`tinyhar.config` can validate
``features.set`` without importing the feature code (scipy, scikit-learn);
:mod:`tinyhar.features.plan` re-exports it and documents each set, and
:func:`tinyhar.features.catalog.feature_layout` says what each set computes.
"""

from __future__ import annotations

__all__ = ["FEATURE_SETS"]

FEATURE_SETS = ("minimal", "light", "default", "full", "invariant")
"""Available feature sets: the cheapest to the richest, then ``invariant``.

``invariant`` holds only features that do not change when the sensor is
rotated (magnitudes and gravity-aligned components); see
:data:`tinyhar.features.plan.FEATURE_SETS` for what each set computes.
"""

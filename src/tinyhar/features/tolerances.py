"""How closely two implementations of the features agree, and why: the documented tolerances.

The same window gives the same *classes* everywhere (tree thresholds are
float32 and compared exactly, see :mod:`tinyhar.models.trees`), but the
*feature values* are float32 arithmetic whose last bits depend on the order of
the operations. That order differs between numpy's SIMD kernels (SSE, AVX2,
AVX-512, NEON: the reduction tree follows the vector width), between batch
(chunk) sizes, between numpy and a sequential C or MicroPython loop, and
between compilers that do or do not fuse ``a * b + c`` into one FMA (always on
aarch64). Bit-exact agreement is therefore promised only where no arithmetic
happens, and every other feature has a tolerance stated here, with its reason.
Tests and parity reports compare with :func:`compare_features`; nothing else
in tinyhar hard-codes a feature tolerance.

A feature value ``a`` agrees with ``b`` when
``|a - b| <= rtol * max(|a|, |b|) + atol`` (``atol`` in the feature's unit).

========== ============================================ ============================
class      features                                     tolerance
========== ============================================ ============================
exact      ``min``/``max`` of an input channel          bit-exact: a copy of one input
                                                        sample (same float32 input)
arithmetic every other time, gravity, body, jerk, ENMO  rtol 2e-5, atol 2e-6: float32
           statistic (mean, std, rms, percentiles of    sums of N samples in another
           derived signals, magnitudes)                 order differ by about
                                                        log2(N) ulp of the largest term
ratio      correlations, tilt angles, spectral entropy  rtol 2e-4, atol 2e-5: quotients
           and centroid                                 and logarithms of such sums,
                                                        where near-cancellation
                                                        amplifies the sums' error
power      spectral band powers                         rtol 2e-4, atol 1e-7: FFT
                                                        butterflies (radix and order
                                                        differ) on mean-removed data
crossing   mean-crossing rates                          one crossing (``fs / (N-1)``
                                                        Hz): a sample equal to the
                                                        mean to float32 precision
                                                        may count on either side
peak       dominant frequency                           1e-4 Hz, except at ties: when
                                                        two bins' powers agree within
                                                        the power tolerance, either
                                                        bin is correct; allowed in at
                                                        most ``PEAK_TIE_FRACTION`` of
                                                        windows
========== ============================================ ============================

These classes compare two float32 implementations (numpy and C). The
MicroPython unix port computes in double precision (an ESP32 in single) and
is not always within them: its derived signals differ from the float32
reference by more than reordering (percentiles of the vertical body
acceleration by up to about 7e-6 g, through the gravity filter), so its
parity uses the wider tolerance of
:data:`tinyhar.export.parity.MICROPYTHON_TOLERANCE`.

References
----------
Goldberg (1991), "What every computer scientist should know about
floating-point arithmetic", ACM Computing Surveys 23(1):5-48 (summation
error bounds); Higham (1993), "The accuracy of floating point summation",
SIAM J. Sci. Comput. 14(4):783-799 (pairwise vs. sequential summation).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinyhar.errors import DataFormatError
from tinyhar.features.plan import STATISTICS


@dataclass(frozen=True)
class Tolerance:
    """Agreement rule of one class of features.

    Parameters
    ----------
    rtol : float
        Relative tolerance, against ``max(|a|, |b|)``.
    atol : float
        Absolute tolerance in the feature's unit.
    reason : str
        Why the implementations may differ by this much.
    """

    rtol: float
    atol: float
    reason: str


TOLERANCES: dict[str, Tolerance] = {
    "exact": Tolerance(0.0, 0.0, "copy of one input sample: no arithmetic"),
    "arithmetic": Tolerance(
        2e-5, 2e-6, "float32 sums of N samples in another order (SIMD width, chunk, C loop)"
    ),
    "ratio": Tolerance(2e-4, 2e-5, "quotients/logarithms of sums amplify their rounding"),
    "power": Tolerance(2e-4, 1e-7, "FFT butterflies in another order on mean-removed data"),
    "crossing": Tolerance(0.0, 0.0, "a sample equal to the mean may count on either side"),
    "peak": Tolerance(0.0, 1e-4, "the highest bin may be either of two tied bins"),
    # statistics whose own tolerance is in the statistic table (tinyhar.features.plan)
    **{s.name: Tolerance(*s.tolerance) for s in STATISTICS if s.tolerance is not None},
}
"""The tolerance classes (``crossing``'s atol is one crossing, set per window length).

A statistic of :data:`tinyhar.features.plan.STATISTICS` with its own
``tolerance`` is a class of its own, named after it.
"""

PEAK_TIE_FRACTION = 0.01
"""Largest fraction of windows whose dominant frequency may differ (tied spectral peaks)."""

_RATIO = re.compile(r"(^corr_|^tilt_|_spec_entropy$|_spec_centroid$)")


def tolerance_class(name: str, channels: Sequence[str]) -> str:
    """The tolerance class of one feature (a key of :data:`TOLERANCES`).

    Parameters
    ----------
    name : str
        Feature name as :meth:`FeatureExtractor.get_feature_names_out` gives
        it (a ``prev_`` or ``delta_`` prefix of stacked features is ignored;
        a delta is a difference and is classed as ``arithmetic`` at least).
    channels : sequence of str
        The input channels, e.g. ``("acc_x", ..., "gyro_z")``.
    """
    base = name
    delta = False
    for prefix in ("prev_", "delta_"):
        if base.startswith(prefix):
            delta = prefix == "delta_"
            base = base[len(prefix) :]
    if base.endswith("_mcr"):
        return "crossing"
    for s in STATISTICS:
        if s.tolerance is not None and base.endswith(f"_{s.name}"):
            return s.name
    if base.endswith("_dom_freq"):
        return "peak"
    if "_power_" in base:
        return "power"
    if _RATIO.search(base):
        return "ratio"
    if not delta and any(base in (f"{c}_min", f"{c}_max") for c in channels):
        return "exact"
    return "arithmetic"


@dataclass
class FeatureComparison:
    """Result of :func:`compare_features`.

    Attributes
    ----------
    per_feature : dict
        Name -> ``{"class", "max_abs", "max_rel", "outside"}`` (``outside``:
        windows beyond the class tolerance).
    n_windows : int
    bit_exact_fraction : float
        Fraction of all values equal bit for bit.
    """

    per_feature: dict
    n_windows: int
    bit_exact_fraction: float

    def violations(self) -> list[str]:
        """Features outside their tolerance (``peak`` ones beyond the tie allowance), as text."""
        out = []
        for name, r in self.per_feature.items():
            allowed = (
                int(PEAK_TIE_FRACTION * self.n_windows) if r["class"] == "peak" else 0
            )
            if r["outside"] > allowed:
                out.append(
                    f"{name} ({r['class']}): {r['outside']} of {self.n_windows} windows outside "
                    f"tolerance, max abs {r['max_abs']:.3g}, max rel {r['max_rel']:.3g}"
                )
        return out


def compare_features(
    a: np.ndarray,
    b: np.ndarray,
    names: Sequence[str],
    channels: Sequence[str],
    n_samples: int,
    sampling_rate_hz: float,
) -> FeatureComparison:
    """Compare two feature matrices feature by feature against :data:`TOLERANCES`.

    Parameters
    ----------
    a, b : numpy.ndarray, shape (n_windows, n_features)
        The same windows' features from two implementations (or two runs).
    names : sequence of str
        Feature names, ``n_features`` of them.
    channels : sequence of str
        Input channel names (decide which ``min``/``max`` are exact).
    n_samples : int
        Samples per window (one mean crossing is ``fs / (n_samples - 1)`` Hz).
    sampling_rate_hz : float
        Sampling rate in Hz.

    Returns
    -------
    FeatureComparison

    Raises
    ------
    DataFormatError
        Shapes differ, or ``names`` does not match the number of columns.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != len(names):
        raise DataFormatError(
            "features",
            f"cannot compare feature matrices of shapes {a.shape} and {b.shape} with "
            f"{len(names)} names: pass (n_windows, n_features) arrays of the same windows",
        )
    crossing = sampling_rate_hz / max(n_samples - 1, 1) * (1 + 1e-6)
    both_nan = np.isnan(a) & np.isnan(b)
    err = np.where(both_nan, 0.0, np.abs(a - b))
    scale = np.maximum(np.abs(a), np.abs(b))
    rel = np.divide(err, scale, out=np.zeros_like(err), where=scale > 0)
    per = {}
    for j, name in enumerate(names):
        cls = tolerance_class(name, channels)
        tol = TOLERANCES[cls]
        atol = crossing if cls == "crossing" else tol.atol
        limit = tol.rtol * scale[:, j] + atol
        outside = ~(err[:, j] <= limit)  # NaN against a number is outside
        per[name] = {
            "class": cls,
            "max_abs": float(np.nanmax(err[:, j])) if len(a) else 0.0,
            "max_rel": float(np.nanmax(rel[:, j])) if len(a) else 0.0,
            "outside": int(outside.sum()),
        }
    exact = float(np.mean((a == b) | both_nan)) if a.size else 1.0
    return FeatureComparison(per, len(a), exact)

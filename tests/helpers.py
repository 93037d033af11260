"""Helpers shared by the tests (importable as ``tests.helpers``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

HAPT_BASIC_COUNTS = {
    "WALKING": 122_091,
    "WALKING_UPSTAIRS": 116_707,
    "WALKING_DOWNSTAIRS": 107_961,
    "SITTING": 126_677,
    "STANDING": 138_105,
    "LAYING": 136_865,
}
"""Labelled samples per basic activity in HAPT (RawData/labels.txt)."""


def make_frame(
    labels: list[tuple[str | None, int]],
    rate: float = 50.0,
    subject: str = "1",
    session: str = "s1",
    t0: float = 0.0,
    gyro: bool = True,
) -> pd.DataFrame:
    """A canonical frame: still device (1 g on z) with label runs ``[(label, n_samples), ...]``."""
    n = sum(k for _, k in labels)
    frame = pd.DataFrame(
        {
            "time": t0 + np.arange(n) / rate,
            "acc_x": np.zeros(n),
            "acc_y": np.zeros(n),
            "acc_z": np.ones(n),
        }
    )
    if gyro:
        for c in ("gyro_x", "gyro_y", "gyro_z"):
            frame[c] = 0.0
    frame["label"] = [lab for lab, k in labels for _ in range(k)]
    frame["subject"] = subject
    frame["session"] = session
    return frame


def bundled_hapt_parquet(folder, subjects: list[str], name: str = "hapt.parquet"):
    """Write these subjects of the bundled HAPT copy as a tinyhar Parquet file; return its path."""
    from tinyhar.datasets.bundled import load_bundled_hapt

    return load_bundled_hapt().select(subjects=subjects).to_parquet(folder / name)

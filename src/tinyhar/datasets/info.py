"""What tinyhar knows about each named data set, without loading anything.

Every fact about a named data set is written once, in its :class:`DatasetInfo`
entry of :data:`DATASETS`: what it is, its sampling rate, where its file
lives, which function loads it and which options that function takes, which
people it was recorded from (shared with other data sets or not, with the
publisher's subject ids or renumbered ones), and its test subjects (the
publisher's split, and the split of the tutorial its presets reproduce).
Adding a data set means adding one entry here and its loader.

This module imports only the standard library, so that ``tinyhar datasets``
lists the data sets without importing numpy or pandas; the loaders are
imported by :func:`tinyhar.datasets.registry.load_dataset` when one is used.
"""

from __future__ import annotations

from dataclasses import dataclass

OFFICIAL_TEST_SUBJECTS = ("2", "4", "9", "10", "12", "13", "18", "20", "24")
"""Test subjects of the official UCI HAR / HAPT split (Anguita et al. 2013, "A public
domain dataset for human activity recognition using smartphones", ESANN): the same 9
of the 30 volunteers in both data sets."""

WISDM_TUTORIAL_TEST_USERS = tuple(str(u) for u in range(31, 37))
"""WISDM v1.1 users (the publisher's ids 1-36) the widely copied WISDM LSTM tutorial
tests on (users 1-30 train, 31-36 test; the ``wisdm-bilstm`` and ``tiny-cnn`` presets)."""


@dataclass(frozen=True)
class DatasetInfo:
    """What the registry knows about a named data set.

    Attributes
    ----------
    name : str
        Registry name.
    description : str
        One line for listings.
    kind : str
        ``"recordings"`` (continuous, a RecordingSet) or ``"windows"``
        (pre-windowed, a WindowSet).
    sampling_rate_hz : float
        Sampling rate in Hz.
    default_file : str or None
        File name looked up in the data folder (:func:`find_data_dir`) when
        no path is given; None when the set is bundled or needs a path.
    loader : str
        The function that loads it, as ``"module:function"`` (imported on
        first use). It takes the file (``path``), optionally ``checks``, and
        the keyword ``options``.
    options : tuple of str
        Keyword options the loader accepts (tests keep this equal to its
        signature).
    population : str or None
        The people it was recorded from: data sets with the same population
        share subjects (UCI HAR windows were cut from HAPT; the WISDM windows
        from the raw WISDM v1.1 file), data sets of two different known
        populations share nobody. None: unknown.
    renumbered_subjects : bool
        Its subject ids are not the publisher's (the WISDM windows file numbers
        its users 0-35), so they cannot be matched with another data set's ids.
    official_test_subjects : tuple of str
        The publisher's subject-independent test subjects; empty when it has
        no such split.
    tutorial_test_subjects : tuple of str
        The test subjects of the tutorial protocol that the network presets
        made for this data set reproduce; empty when there is none.
    """

    name: str
    description: str
    kind: str
    sampling_rate_hz: float
    default_file: str | None
    loader: str
    options: tuple[str, ...] = ()
    population: str | None = None
    renumbered_subjects: bool = False
    official_test_subjects: tuple[str, ...] = ()
    tutorial_test_subjects: tuple[str, ...] = ()


DATASETS: dict[str, DatasetInfo] = {
    "hapt": DatasetInfo(
        "hapt",
        "HAPT, bundled with tinyhar: 30 subjects, 6 basic activities, acc+gyro, continuous",
        "recordings", 50.0, None, "tinyhar.datasets.bundled:load_bundled_hapt",
        population="smartlab-30", official_test_subjects=OFFICIAL_TEST_SUBJECTS,
    ),
    "hapt-raw": DatasetInfo(
        "hapt-raw",
        "HAPT from the publisher's zip (activities basic|all, sensors acc|acc+gyro)",
        "recordings", 50.0, "HAPT Data Set.zip", "tinyhar.datasets.hapt:load_hapt",
        ("activities", "sensors"),
        population="smartlab-30", official_test_subjects=OFFICIAL_TEST_SUBJECTS,
    ),
    "uci-har": DatasetInfo(
        "uci-har",
        "UCI HAR: 10,299 windows of 2.56 s, 6 activities, official train/test split",
        "windows", 50.0, "UCI HAR Dataset.zip", "tinyhar.datasets.ucihar:load_ucihar",
        ("signals",),
        population="smartlab-30", official_test_subjects=OFFICIAL_TEST_SUBJECTS,
    ),
    "wisdm-windows": DatasetInfo(
        "wisdm-windows",
        "WISDM v1.1, 7,292 windows of 128 samples, 36 users, z-scored (not g)",
        "windows", 20.0, "wisdm_v1.1_windows/windows.npz",
        "tinyhar.datasets.wisdm:load_wisdm_windows",
        population="wisdm-v1.1", renumbered_subjects=True,
        # users 0-35 in the order of the publisher's ids 1-36
        tutorial_test_subjects=tuple(str(int(u) - 1) for u in WISDM_TUTORIAL_TEST_USERS),
    ),
    "wisdm-raw": DatasetInfo(
        "wisdm-raw",
        "WISDM v1.1 raw accelerometer text (WISDM_ar_v1.1_raw.txt); needs --path",
        "recordings", 20.0, None, "tinyhar.datasets.wisdm:load_wisdm_raw", ("on_bad_lines",),
        population="wisdm-v1.1", tutorial_test_subjects=WISDM_TUTORIAL_TEST_USERS,
    ),
}
"""The data sets known by name."""

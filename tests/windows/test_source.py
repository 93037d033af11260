"""Which channels ``dataset.sensors`` takes from a data set (windows.source)."""

from __future__ import annotations

import pytest

from tinyhar.core.channels import ACC_CHANNELS, GYRO_CHANNELS
from tinyhar.errors import ConfigError
from tinyhar.windows.source import wanted_channels

ACC = list(ACC_CHANNELS)
BOTH = list(ACC_CHANNELS + GYRO_CHANNELS)


def test_auto_takes_the_gyroscope_when_there_is_one():
    assert wanted_channels("auto", BOTH, "d") == BOTH
    # a wrist accelerometer (CAPTURE-24, UK Biobank, Axivity): accelerometer only, no error
    assert wanted_channels("auto", ACC, "d") == ACC
    assert wanted_channels("auto", ACC + ["gyro_x"], "d") == ACC  # not all three axes
    assert wanted_channels("acc", BOTH, "d") == ACC
    assert wanted_channels("all", ACC, "d") == ACC


def test_asking_for_a_missing_gyroscope_says_what_to_do():
    with pytest.raises(ConfigError, match=r"dataset.sensors: 'acc\+gyro' needs channels "
                       r"\['gyro_x', 'gyro_y', 'gyro_z'\], which data set 'd' does not have"):
        wanted_channels("acc+gyro", ACC, "d")

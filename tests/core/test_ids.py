"""Subject/session ids: natural order, and per-window id arrays holding one object."""

from __future__ import annotations

import numpy as np

from tinyhar.core.ids import natural_key, repeated_id


def test_natural_order():
    assert sorted(["10", "2", "b", "1"], key=natural_key) == ["1", "2", "10", "b"]


def test_a_repeated_id_is_one_object():
    ids = repeated_id("s001", 5)
    assert ids.dtype == object and ids.tolist() == ["s001"] * 5
    assert all(x is ids[0] for x in ids)  # np.full(..., dtype=object) would copy each
    assert repeated_id("x", 0).shape == (0,)
    assert np.concatenate([repeated_id("a", 2), repeated_id("b", 1)]).tolist() == ["a", "a", "b"]

"""How the board is worn: its IMU axes mapped onto the training data's axes.

A model learns the axes of its training data: in HAPT (Samsung Galaxy S II
on the waist) standing still reads about +1 g on ``acc_x`` (the phone's x
axis points up). A board worn another way sees the same movement on other
axes. A *mounting* says, for each training axis, which board axis (and sign)
carries it, e.g. ``"x=-y,y=x,z=z"``: training x is the board's -y. It is a
rotation (a signed permutation with determinant +1: a rigid board cannot be
worn mirrored), applied on the board to the accelerometer and the gyroscope
before the features (both are vectors of the same rigid body).

``tinyhar export --mounting SPEC`` and ``tinyhar deploy --mounting SPEC``
write it to the bundle's :data:`MOUNTING_FILE` together with the *gravity
reference*: the mean acceleration, in g, of the training subjects' windows
of the standing class (:func:`gravity_reference`). The live app
(``app_live.main``, device module ``tinyhar_mounting.py``) maps every sample
and, from the first seconds (standing still), checks that gravity reads as in
training; if not, it names the training axis that is off and suggests a
mounting that puts gravity where training has it.

Presets (:data:`MOUNTING_PRESETS`): ``identity`` and
``m5stickc-plus2-waist`` (the M5StickC PLUS2 worn like HAPT's phone: at the
waist, upright with the USB-C port down, screen facing out; see the README).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.errors import ConfigError
from tinyhar.windows.gravity import (  # noqa: F401 (part of this module's API)
    AXES,
    GRAVITY_TOLERANCE_DEG,
    STANDING_WORDS,
    gravity_reference,
)

__all__ = [
    "GRAVITY_TOLERANCE_DEG",
    "MOUNTING_FILE",
    "MOUNTING_PRESETS",
    "Mounting",
    "gravity_reference",
    "parse_mounting",
    "set_bundle_mounting",
    "write_mounting",
]

MOUNTING_FILE = "mounting.json"
"""Bundle file with the mounting and the gravity reference (data, read by the live app)."""


MOUNTING_PRESETS = {
    "identity": "x=x,y=y,z=z",
    "m5stickc-plus2-waist": "x=y,y=-x,z=z",
}
"""Named mountings. ``m5stickc-plus2-waist``: the M5StickC PLUS2 (MPU6886: x to the
right and y up when you look at the screen held upright, USB-C port down; z out
of the screen) clipped to the belt upright, screen facing out, as HAPT's phone:
training x (up) is the board's y, training y (the wearer's right) is the board's
-x, training z (forward, out of the belly) is the board's z."""




@dataclass(frozen=True)
class Mounting:
    """A signed permutation of the three axes: training axis ``i`` = ``sign[i] * board[source[i]]``.

    Attributes
    ----------
    source : tuple of int
        Board axis (0, 1, 2 for x, y, z) of each training axis.
    sign : tuple of int
        +1 or -1 for each training axis.
    """

    source: tuple[int, int, int]
    sign: tuple[int, int, int]

    @property
    def matrix(self) -> np.ndarray:
        """``(3, 3)`` matrix ``M`` with ``training = M @ board``."""
        m = np.zeros((3, 3))
        for i, (s, j) in enumerate(zip(self.sign, self.source, strict=True)):
            m[i, j] = s
        return m

    def spec(self) -> str:
        """The text form, e.g. ``"x=-y,y=x,z=z"``."""
        return ",".join(f"{AXES[i]}={'-' if s < 0 else ''}{AXES[j]}"
                        for i, (s, j) in enumerate(zip(self.sign, self.source, strict=True)))

    def to_board(self, values: np.ndarray, channels: list[str]) -> np.ndarray:
        """Samples in the training axes as a board worn this way reads them.

        Parameters
        ----------
        values : numpy.ndarray, shape (n_samples, n_channels)
            Samples in the training data's axes (g, rad/s).
        channels : list of str
            Channel names (``acc_x`` ... ``gyro_z``; others are left alone).

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_channels)
            What the board's channels read (the inverse of the mounting).
        """
        out = np.array(values, copy=True)
        for prefix in ("acc", "gyro"):
            cols = [channels.index(f"{prefix}_{a}") if f"{prefix}_{a}" in channels else -1
                    for a in AXES]
            if min(cols) < 0:
                continue
            for i in range(3):  # board[source[i]] = sign[i] * training[i]
                out[:, cols[self.source[i]]] = self.sign[i] * values[:, cols[i]]
        return out


def parse_mounting(text: str) -> Mounting:
    """Read a mounting: a preset name or ``"x=<axis>,y=<axis>,z=<axis>"``.

    Parameters
    ----------
    text : str
        A name of :data:`MOUNTING_PRESETS`, or three comma-separated
        assignments of a training axis to a signed board axis, e.g.
        ``"x=-y,y=x,z=z"`` (spaces allowed).

    Returns
    -------
    Mounting

    Raises
    ------
    ConfigError
        An unknown preset, a malformed assignment, a board axis used twice,
        or a mirror image (determinant -1), with what to write instead.
    """
    raw = str(text).strip()
    if raw.lower() in MOUNTING_PRESETS:
        raw = MOUNTING_PRESETS[raw.lower()]
    example = 'e.g. "x=-y,y=x,z=z" (training x is the board\'s -y)'
    parts = [p.strip() for p in raw.replace(" ", "").split(",") if p.strip()]
    if not parts or not all("=" in p for p in parts):
        raise ConfigError(
            f"--mounting {text!r}: use a preset ({', '.join(MOUNTING_PRESETS)}) or "
            f"x=<axis>,y=<axis>,z=<axis>, {example}"
        )
    found: dict[int, tuple[int, int]] = {}
    for p in parts:
        left, right = (s.strip().lower() for s in p.split("=", 1))
        sign = -1 if right.startswith("-") else 1
        right = right.lstrip("+-")
        if left not in AXES or right not in AXES:
            raise ConfigError(f"--mounting {text!r}: {p!r} is not <x|y|z>=[-]<x|y|z>; {example}")
        if AXES.index(left) in found:
            raise ConfigError(f"--mounting {text!r}: training axis {left} is given twice")
        found[AXES.index(left)] = (sign, AXES.index(right))
    missing = [AXES[i] for i in range(3) if i not in found]
    if missing:
        raise ConfigError(f"--mounting {text!r}: training axis {', '.join(missing)} is missing; "
                          f"{example}")
    sources = [found[i][1] for i in range(3)]
    if len(set(sources)) != 3:
        raise ConfigError(f"--mounting {text!r}: each board axis must be used once "
                          f"(got {', '.join(AXES[j] for j in sources)})")
    m = Mounting(tuple(sources), tuple(found[i][0] for i in range(3)))  # type: ignore[arg-type]
    if np.linalg.det(m.matrix) < 0:
        raise ConfigError(
            f"--mounting {text!r} is a mirror image, not a way to wear a board (a rotation "
            "keeps x, y, z right-handed): flip the sign of one more axis"
        )
    return m


def write_mounting(folder: str | Path, mounting: Mounting | None,
                   reference: dict[str, Any] | None) -> Path:
    """Write :data:`MOUNTING_FILE` (atomically) for the live app.

    Parameters
    ----------
    folder : str or Path
        The bundle folder (or a staging folder of ``tinyhar deploy``).
    mounting : Mounting or None
        None: the board is worn like the training sensor (identity).
    reference : dict or None
        :func:`gravity_reference` of the run (None: the app checks only that
        it reads about 1 g).

    Returns
    -------
    Path
        The file written.
    """
    from tinyhar.runfolder import write_text_atomic

    m = mounting or parse_mounting("identity")
    data = {"mounting": m.spec(), "source": list(m.source), "sign": list(m.sign),
            "reference": reference}
    path = Path(folder) / MOUNTING_FILE
    write_text_atomic(path, json.dumps(data, indent=1))
    return path


def set_bundle_mounting(bundle: str | Path, mounting: str | Mounting) -> Mounting:
    """Change the mounting of an exported bundle, keeping its gravity reference.

    ``tinyhar deploy RUN --mounting SPEC`` uses it: wearing the board another
    way needs no new export.

    Parameters
    ----------
    bundle : str or Path
        A MicroPython bundle folder.
    mounting : str or Mounting
        The new mounting (:func:`parse_mounting`).

    Returns
    -------
    Mounting

    Raises
    ------
    ConfigError
        A malformed mounting.
    TinyharError
        Not a bundle of this export format.
    """
    from tinyhar.export.formats import BUNDLE_META_FILE, read_bundle_meta
    from tinyhar.runfolder import write_text_atomic

    bundle = Path(bundle)
    m = parse_mounting(mounting) if isinstance(mounting, str) else mounting
    meta = read_bundle_meta(bundle)
    reference = None
    path = bundle / MOUNTING_FILE
    if path.is_file():
        try:
            reference = json.loads(path.read_text(encoding="utf-8")).get("reference")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            reference = None
    write_mounting(bundle, m, reference if isinstance(reference, dict) else None)
    meta["mounting"] = m.spec()
    write_text_atomic(bundle / BUNDLE_META_FILE, json.dumps(meta, indent=2))
    return m

"""Fixtures for the dataset-loader tests.

Real data (``../shared/data``, or ``$TINYHAR_DATA``; the ``shared_data_dir``
fixture of ``tests/conftest.py``) is loaded at most once per session; tests
that need it skip with a clear reason when it is absent. Small archives in the
publishers' layouts are built in temporary folders, never in the project.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

HAPT_ZIP_NAME = "HAPT Data Set.zip"
UCI_ZIP_NAME = "UCI HAR Dataset.zip"
WISDM_NPZ = Path("wisdm_v1.1_windows") / "windows.npz"

HAPT_ACTIVITY_LABELS = (
    "1 WALKING\n2 WALKING_UPSTAIRS\n3 WALKING_DOWNSTAIRS\n4 SITTING\n5 STANDING\n6 LAYING\n"
    "7 STAND_TO_SIT\n8 SIT_TO_STAND\n9 SIT_TO_LIE\n10 LIE_TO_SIT\n11 STAND_TO_LIE\n"
    "12 LIE_TO_STAND\n"
)


def _data_file(folder: Path, name: str | Path) -> Path:
    path = folder / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="session")
def hapt_zip(shared_data_dir: Path) -> Path:
    """The publisher's HAPT zip."""
    return shared_data_dir / HAPT_ZIP_NAME


@pytest.fixture(scope="session")
def uci_zip(shared_data_dir: Path) -> Path:
    """The publisher's UCI HAR zip."""
    return _data_file(shared_data_dir, UCI_ZIP_NAME)


@pytest.fixture(scope="session")
def wisdm_npz(shared_data_dir: Path) -> Path:
    """The derived WISDM windows."""
    return _data_file(shared_data_dir, WISDM_NPZ)


@pytest.fixture(scope="session")
def hapt_basic(hapt_zip: Path):
    """All of HAPT, 6 basic activities, acc+gyro (loaded once per session)."""
    from tinyhar.datasets.hapt import load_hapt

    return load_hapt(hapt_zip, activities="basic", sensors="acc+gyro")


@pytest.fixture(scope="session")
def uci_default(uci_zip: Path):
    """All of UCI HAR with the default signals (loaded once per session)."""
    from tinyhar.datasets.ucihar import load_ucihar

    return load_ucihar(uci_zip)


@pytest.fixture(scope="session")
def hapt_subset(hapt_zip: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Experiments 1 and 2 (user 1) of the real HAPT, as a zip and as an extracted folder.

    Same layout as the publisher's archive: ``RawData/`` and
    ``activity_labels.txt`` at the root, labels.txt reduced to those experiments.
    """
    base = tmp_path_factory.mktemp("hapt_subset")
    folder = base / "HAPT Data Set"
    keep = [
        "RawData/acc_exp01_user01.txt", "RawData/gyro_exp01_user01.txt",
        "RawData/acc_exp02_user01.txt", "RawData/gyro_exp02_user01.txt",
        "activity_labels.txt",
    ]
    with zipfile.ZipFile(hapt_zip) as src:
        contents = {name: src.read(name) for name in keep}
        labels = src.read("RawData/labels.txt").decode()
    contents["RawData/labels.txt"] = "".join(
        line + "\n" for line in labels.splitlines() if line.split()[0] in ("1", "2")
    ).encode()
    zpath = base / "hapt_subset.zip"
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as dst:
        dst.writestr("RawData/", b"")
        for name, data in contents.items():
            dst.writestr(name, data)
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
    return {"zip": zpath, "folder": folder}


def _fmt(values: np.ndarray) -> str:
    return "".join(" ".join(f"{v:.7e}" for v in row) + "\n" for row in values)


@pytest.fixture
def make_hapt(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a tiny synthetic HAPT folder in the official layout.

    ``make_hapt(lengths={1: 120, 2: 80}, users={1: 1, 2: 2}, labels=[...])``
    writes ``RawData/acc_expNN_userMM.txt`` (values multiples of 1/720 g, about
    1 g on z so that the unit check passes),
    the matching gyro files, ``RawData/labels.txt`` (rows
    ``exp user activity start end``) and ``activity_labels.txt``; returns the
    folder. ``labels_text`` / ``acc_text`` override file contents verbatim.
    """

    def build(
        lengths: dict[int, int] | None = None,
        users: dict[int, int] | None = None,
        labels: list[tuple[int, int, int, int, int]] | None = None,
        labels_text: str | None = None,
        acc_text: dict[int, str] | None = None,
        gyro_rows: dict[int, int] | None = None,
        name: str = "hapt",
    ) -> Path:
        lengths = lengths or {1: 120, 2: 80}
        users = users or {e: e for e in lengths}
        root = tmp_path / name
        raw = root / "RawData"
        raw.mkdir(parents=True)
        rng = np.random.default_rng(0)
        for exp, n in lengths.items():
            stem = f"exp{exp:02d}_user{users[exp]:02d}.txt"
            # a moving device: gravity (720 counts = 1 g) on z plus up to +-0.5 g
            acc = (rng.integers(-360, 360, size=(n, 3)) + [0, 0, 720]) / 720.0
            text = (acc_text or {}).get(exp, _fmt(acc))
            (raw / f"acc_{stem}").write_text(text)
            n_gyro = (gyro_rows or {}).get(exp, n)
            (raw / f"gyro_{stem}").write_text(_fmt(rng.normal(size=(n_gyro, 3)).round(6)))
        if labels is None:
            first = next(iter(lengths))
            labels = [(first, users[first], 1, 10, 39), (first, users[first], 7, 40, 49),
                      (first, users[first], 4, 50, 99)]
        if labels_text is None:
            labels_text = "".join(" ".join(str(v) for v in row) + "\n" for row in labels)
        (raw / "labels.txt").write_text(labels_text)
        (root / "activity_labels.txt").write_text(HAPT_ACTIVITY_LABELS)
        return root

    return build


def zip_folder(folder: Path, target: Path, prefix: str = "") -> Path:
    """Zip ``folder``'s contents into ``target`` with member names ``prefix + relative path``."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return target


@pytest.fixture
def zipper() -> Callable[..., Path]:
    """The :func:`zip_folder` helper, as a fixture."""
    return zip_folder

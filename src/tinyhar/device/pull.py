"""``tinyhar recordings pull``: copy the recording app's files off a board, verified.

The transfer is one small class per way of reaching the files:

- :class:`MpremoteSource`: a board on a serial port, through mpremote (one
  ``exec`` lists the recordings folder with each file's size and SHA-256
  computed *on the board*; ``fs cp`` copies; ``fs rm`` deletes);
- :class:`FolderSource`: a folder holding the board's files (a board mounted
  as a drive, or files copied by hand): ``--from-folder``.

:func:`pull` plans with :func:`tinyhar.datasets.pull.plan_pull` (only
recordings not pulled before), copies into a staging folder inside the
recordings folder, verifies each copy's size and SHA-256 against the board's
(:func:`~tinyhar.datasets.pull.verify_copy`), converts it
(:func:`~tinyhar.datasets.pull.add_pulled`: canonical Parquet, ``data.yaml``,
ledger) and, only when asked (``delete=True``) and only for recordings whose
copies were verified and stored (now or in an earlier pull, same SHA-256),
deletes them on the board.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tinyhar.datasets.pull import (
    RAW_FOLDER,
    BoardFile,
    PlannedRecording,
    PulledRecording,
    add_pulled,
    plan_pull,
    verify_copy,
)
from tinyhar.errors import TinyharError

__all__ = ["BOARD_FOLDER", "FolderSource", "MpremoteSource", "PullResult", "pull"]

BOARD_FOLDER = "rec"
"""The recording app's folder on the board (``app_record.main(folder=...)``)."""

_LIST_CODE = """\
import os, hashlib, binascii
def _h(p):
    s = hashlib.sha256()
    f = open(p, 'rb')
    while True:
        b = f.read(2048)
        if not b:
            break
        s.update(b)
    f.close()
    return binascii.hexlify(s.digest()).decode()
try:
    _n = sorted(os.listdir(%(folder)r))
except OSError:
    _n = None
if _n is None:
    print('TINYHAR_NOFOLDER')
else:
    for _f in _n:
        _p = %(folder)r + '/' + _f
        if os.stat(_p)[0] & 0x4000:
            continue
        print('TINYHAR_FILE', os.stat(_p)[6], _h(_p), _f)
"""
"""MicroPython listing the recordings folder: size and SHA-256 of every file."""


class FolderSource:
    """The board's recordings as files in a local folder (a mounted board, a hand copy).

    Parameters
    ----------
    folder : str or Path
        The folder holding ``rec_NNN.csv`` / ``rec_NNN.json`` (or its parent
        holding ``rec/``).
    """

    def __init__(self, folder: str | Path) -> None:
        folder = Path(folder)
        if (folder / BOARD_FOLDER).is_dir() and not any(folder.glob("*.csv")):
            folder = folder / BOARD_FOLDER
        if not folder.is_dir():
            raise TinyharError(f"{folder}: no such folder; give the folder holding the "
                               "recording app's rec_NNN.csv and rec_NNN.json files")
        self.folder = folder
        self.where = str(folder)

    def listing(self) -> list[BoardFile]:
        """Every file with its size and SHA-256."""
        from tinyhar.runfolder import sha256_file

        return [BoardFile(p.name, p.stat().st_size, sha256_file(p))
                for p in sorted(self.folder.iterdir()) if p.is_file()]

    def fetch(self, names: Sequence[str], dest: Path) -> None:
        """Copy ``names`` into the folder ``dest``."""
        for name in names:
            shutil.copyfile(self.folder / name, dest / name)

    def remove(self, names: Sequence[str]) -> None:
        """Delete ``names`` from the source folder."""
        for name in names:
            (self.folder / name).unlink(missing_ok=True)


class MpremoteSource:
    """The recordings folder of a board on a serial port, through mpremote.

    Parameters
    ----------
    port : str
        Serial port (``/dev/ttyACM0``, ``COM3``; ``mpremote connect list``).
    folder : str
        The recordings folder on the board (:data:`BOARD_FOLDER`).
    timeout : float
        Seconds per mpremote call (hashing a large recording on an ESP32
        takes seconds).
    runner : callable
        ``subprocess.run`` or a stand-in (tests).
    mpremote : sequence of str, optional
        Command prefix (default: :func:`tinyhar.device.deploy.find_mpremote`).
    """

    def __init__(self, port: str, folder: str = BOARD_FOLDER, timeout: float = 300.0,
                 runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                 mpremote: Sequence[str] | None = None) -> None:
        from tinyhar.device.deploy import find_mpremote

        self.port, self.board_folder, self.timeout, self.runner = port, folder, timeout, runner
        self.prefix = list(mpremote) if mpremote is not None else find_mpremote()
        self.where = f"{port}:{folder}"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        from tinyhar.device.deploy import run_mpremote

        return run_mpremote([*self.prefix, "connect", self.port, *args], self.port,
                            self.timeout, self.runner)

    def listing(self) -> list[BoardFile]:
        """Every file of the board's recordings folder, size and SHA-256 computed on the board.

        Raises
        ------
        TinyharError
            No board, or no recordings folder on it (nothing recorded yet).
        """
        out = self._run("exec", _LIST_CODE % {"folder": self.board_folder}).stdout or ""
        if "TINYHAR_NOFOLDER" in out:
            raise TinyharError(f"{self.where}: no recordings folder on the board; record "
                               "something first (tinyhar deploy RUN --port PORT --app record)")
        files = []
        for line in out.splitlines():
            if line.startswith("TINYHAR_FILE "):
                _, size, digest, name = line.split(" ", 3)
                files.append(BoardFile(name, int(size), digest))
        return files

    def fetch(self, names: Sequence[str], dest: Path) -> None:
        """Copy ``names`` from the board into the local folder ``dest``."""
        if names:
            self._run("fs", "cp", *[f":{self.board_folder}/{n}" for n in names],
                      str(dest) + "/")

    def remove(self, names: Sequence[str]) -> None:
        """Delete ``names`` from the board's recordings folder."""
        if names:
            self._run("fs", "rm", *[f":{self.board_folder}/{n}" for n in names])


def _kept(folder: Path, plan: PlannedRecording) -> bool:
    """Whether the raw copies of a recording pulled before are still in the folder, unchanged."""
    from tinyhar.runfolder import sha256_file

    for f, ext in ((plan.csv, ".csv"), (plan.sidecar, ".json")):
        raw = folder / RAW_FOLDER / f"{plan.local}{ext}"
        if f is None or not raw.is_file() or sha256_file(raw) != f.sha256:
            return False
    return True


@dataclass
class PullResult:
    """What :func:`pull` did.

    Attributes
    ----------
    source : str
        The board (``PORT:rec``) or folder.
    pulled : list of PulledRecording
        Recordings added now.
    already : list of PlannedRecording
        Recordings pulled before (left as they are).
    skipped : list of str
        Recordings not pulled, each a message naming the file and what to do.
    deleted : list of str
        Files deleted on the board.
    definition : Path or None
        ``FOLDER/data.yaml`` (None when nothing was ever pulled into the folder).
    """

    source: str
    pulled: list[PulledRecording] = field(default_factory=list)
    already: list[PlannedRecording] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    definition: Path | None = None


def pull(
    source: MpremoteSource | FolderSource,
    to: str | Path,
    subject: str = "1",
    delete: bool = False,
    overwrite: bool = False,
) -> PullResult:
    """Copy new recordings off the board, verify, convert, and optionally delete them there.

    Parameters
    ----------
    source : MpremoteSource or FolderSource
        Where the recording app's files are.
    to : str or Path
        The recordings folder (created): ``<name>.parquet`` per recording,
        ``data.yaml``, the raw files under ``board/``, the ledger ``pulled.json``.
    subject : str
        Subject id of the person who wore the board for these recordings.
    delete : bool
        Delete on the board the recordings whose copies are verified and stored:
        this pull's, and earlier pulls' whose raw copies in ``TO/board/`` still
        have the board files' SHA-256; never others.
    overwrite : bool
        Pull recordings pulled before again and replace same-named local ones.

    Returns
    -------
    PullResult

    Raises
    ------
    TinyharError
        No board / folder, or mpremote failing. A recording that cannot be
        pulled (a ``.part`` file, a missing sidecar, a copy that does not
        verify, a file cut short, a clock jump, a failed check) does not stop
        the others: it is listed in ``skipped`` and stays on the board.
    """
    folder = Path(to)
    result = PullResult(source.where)
    plans = plan_pull(source.listing(), folder, source.where, overwrite)
    result.already = [p for p in plans if p.status == "pulled"]
    verified = [p for p in result.already if _kept(folder, p)]
    if delete:
        result.skipped += [
            f"{source.where}/{p.name}.csv: pulled before as {p.local}, but {folder / RAW_FOLDER}/"
            f"{p.local}.csv is missing or differs, so it is not deleted on the board; pull "
            "it again with --overwrite" for p in result.already if p not in verified]
    result.skipped += [p.message for p in plans if p.status == "skipped"]
    new = [p for p in plans if p.status == "new"]
    if new:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".pull-", dir=folder) as tmp:
            staging = Path(tmp)
            source.fetch([f.name for p in new for f in (p.csv, p.sidecar) if f], staging)
            for p in new:
                try:
                    for f in (p.csv, p.sidecar):
                        if not (staging / f.name).is_file():
                            raise TinyharError(f"{source.where}/{f.name}: was not copied; "
                                               "pull again")
                        verify_copy(staging / f.name, f)
                    result.pulled.append(add_pulled(
                        p, staging / p.csv.name, staging / p.sidecar.name, folder, subject,
                        source.where))
                    verified.append(p)
                except TinyharError as exc:
                    result.skipped.append(f"{exc} (not pulled; left on the board)")
    if delete and verified:
        names = [f.name for p in verified for f in (p.csv, p.sidecar) if f]
        source.remove(names)
        result.deleted = names
    definition = folder / "data.yaml"
    result.definition = definition if definition.exists() else None
    return result


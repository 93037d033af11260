"""Run folders that are written atomically and checked before use.

A run folder (``tinyhar train --out RUN``) is never written in place:

1. :func:`write_run` takes a lock next to it (``.RUN.lock`` in the parent
   folder), so a second training into the same folder fails at once with a
   message instead of mixing its files with the first one's;
2. the run is written into a fresh temporary sibling folder
   (``.RUN.tmp-<pid>-<random>``, same parent, so relative paths stay valid and
   the final rename stays on one file system);
3. when everything is written, ``manifest.json`` is written last (format
   version, tinyhar version, time, seed, size and SHA-256 of every file) and
   the temporary folder is renamed to ``RUN``. An existing run is replaced only
   with ``overwrite`` (``tinyhar train --overwrite``): the old folder is
   renamed to ``.RUN.trash-<pid>-<random>``, the new one renamed in, the old
   one deleted.

A reader therefore sees either no folder, the previous complete run or the new
complete run, never a mix. Between the two renames of an overwrite (two system
calls) ``RUN`` is briefly absent; a process killed exactly there leaves the
previous run in the trash sibling, and the next :func:`write_run` on that
folder puts it back (with a warning). Temporary and trash siblings left by
killed runs are removed by the next :func:`write_run` on the same folder (it
holds the lock, so no live run owns them) and reported as a warning.

:func:`load_run` is how every command reads a run folder (into a :class:`Run`,
which loads each part once: config, pipeline, window spec, metrics, test
windows): it checks the
manifest (format version, every listed file present with its size and SHA-256,
no files the run did not write) before anything is loaded, and names the file
at fault and what to do when the folder is incomplete or altered. Files written
into a run folder after training (:data:`LATER_OUTPUTS`: ``export/``,
``embedding_map_*.png``, ``evaluation/``, ``robustness/``) are not in the manifest and are
allowed; they are written atomically file by file (:func:`atomic_file`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fnmatch
import json
import os
import secrets
import shutil
import socket
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tinyhar import interrupts
from tinyhar.core.files import (  # noqa: F401 (writers of files inside a run folder)
    atomic_file,
    fsync_dir,
    sha256_file,
    write_text_atomic,
)
from tinyhar.errors import TinyharError

MANIFEST_FILE = "manifest.json"
"""Name of the manifest in a run folder; written last, when the run is complete."""
CONFIG_FILE = "config.yaml"
"""Resolved configuration of a run (:meth:`tinyhar.config.TrainConfig.to_yaml`)."""
METRICS_FILE = "metrics.json"
"""Metrics of a run (the dict :func:`tinyhar.training.train` returns)."""
SUMMARY_FILE = "summary.md"
"""The run's metrics in words."""
POSTPROCESS_FILE = "postprocess.json"
"""The run's fitted post-processing (:meth:`tinyhar.postprocess.PostProcessor.to_dict`)."""
TEST_WINDOWS_FILE = "test_windows.npz"
"""Windows of the run's test subjects the final model never saw
(:func:`tinyhar.core.windowfile.save_windows`: float32 samples, compressed), written at
training time; :attr:`Run.test_windows` reads them for the exports' parity checks."""
NETWORK_DATA_FILE = "network_data.npz"
"""Windows kept in a network run for ONNX calibration (training subjects) and checks (test);
read by :func:`tinyhar.export.onnx.export_network_onnx`."""
MAX_TEST_WINDOWS = 10_000
"""At most this many test windows are stored (whole sessions, in order): about 30 MB for
128-sample, 6-channel windows before compression."""
MANIFEST_FORMAT = "tinyhar-run"
MANIFEST_VERSION = 1
"""Version of the manifest layout; :func:`load_run` refuses versions it does not know."""
LATER_OUTPUTS = ("export/*", "evaluation/*", "robustness/*", "embedding_map_*.png", "*.tmp-*")
"""Patterns (relative POSIX paths, :func:`fnmatch.fnmatch`) of files that may be in a run
folder without being in its manifest: outputs written after training (``tinyhar export``,
``tinyhar explore``) and leftovers of their interrupted atomic writes (never read)."""
_IGNORED_NAMES = (".DS_Store", "Thumbs.db", "desktop.ini")


def _retrain_hint(path: Path) -> str:
    return f"train it again: tinyhar train --out {path} --overwrite"


# --------------------------------------------------------------------------- writing


def sibling_path(out: Path, kind: str) -> Path:
    """A fresh hidden sibling of ``out``: ``.NAME.KIND-<pid>-<random>`` (``tmp`` or ``trash``)."""
    return out.with_name(f".{out.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}")


def _siblings(out: Path, kind: str) -> list[Path]:
    """Temporary (``kind="tmp"``) or trash folders of runs into ``out``."""
    pattern = f".{_glob_escape(out.name)}.{kind}-*"
    return sorted(p for p in out.parent.glob(pattern) if p.is_dir() and not p.is_symlink())


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _is_run_folder(path: Path) -> bool:
    """A folder ``--overwrite`` may replace: a run of this or an older tinyhar."""
    if (path / MANIFEST_FILE).is_file():
        return True
    return all((path / n).is_file() for n in (CONFIG_FILE, METRICS_FILE, SUMMARY_FILE))


def _check_out(out_dir: str | Path) -> Path:
    if str(out_dir).strip() == "":
        raise TinyharError("the run folder is an empty path: name a folder, e.g. --out runs/first")
    out = Path(out_dir)
    if out.is_symlink():
        raise TinyharError(
            f"{out} is a symbolic link: name the run folder itself (a link would be replaced)"
        )
    if out.exists() and not out.is_dir():
        raise TinyharError(f"{out} is a file, not a folder: choose another run folder")
    resolved = out.resolve()
    cwd = Path.cwd().resolve()
    if resolved == Path(resolved.anchor) or resolved == cwd or resolved in cwd.parents:
        raise TinyharError(
            f"{out} is the current folder or one above it: name a new folder for the run, "
            "e.g. --out runs/first"
        )
    return out


class _Lock:
    """An exclusive, non-blocking lock on ``.NAME.lock`` next to a run folder.

    ``fcntl.flock`` (POSIX) or ``msvcrt.locking`` (Windows): the operating
    system drops the lock when its process dies, so a killed run never leaves a
    stale lock; the file records the holder's pid and host for the message.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.path = out.with_name(f".{out.name}.lock")
        self.fd: int | None = None

    def acquire(self) -> None:
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                locked = self._try_lock(fd)
            except BaseException:
                os.close(fd)
                raise
            if not locked:
                holder = self._holder(fd)
                os.close(fd)
                raise TinyharError(
                    f"{self.out}: another tinyhar run "
                    f"({holder}) is writing this run folder; wait for it to finish or "
                    "choose another --out"
                )
            try:  # the holder before us may have removed the file: lock the current one
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                os.ftruncate(fd, 0)
                os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
                return
            os.close(fd)
        raise TinyharError(f"{self.path}: could not take the lock; try again")

    @staticmethod
    def _try_lock(fd: int) -> bool:
        try:
            import fcntl
        except ImportError:  # Windows
            import msvcrt

            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            except OSError:
                return False
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
        except (OSError, AttributeError):
            text = ""
        return text or "another process"

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(OSError):  # POSIX: remove while still holding the lock
            if os.name != "nt":
                os.unlink(self.path)
        os.close(self.fd)  # closing drops the lock
        self.fd = None


def _recover(out: Path) -> None:
    """Put back a run an interrupted overwrite left in the trash; remove leftovers.

    Called with the lock held, so no live process owns the siblings.
    """
    trash = _siblings(out, "trash")
    if not out.exists() and trash:
        keep = max(trash, key=lambda p: p.stat().st_mtime)
        os.rename(keep, out)
        trash.remove(keep)
        warnings.warn(
            f"{out}: an overwrite was interrupted while swapping folders; the previous run "
            f"was put back from {keep.name}",
            stacklevel=4,
        )
    left = trash + _siblings(out, "tmp")
    for p in left:
        shutil.rmtree(p, ignore_errors=True)
    if left:
        warnings.warn(
            f"removed {len(left)} leftover folder(s) of interrupted runs next to {out}: "
            + ", ".join(p.name for p in left),
            stacklevel=4,
        )


def list_files(folder: str | Path) -> list[str]:
    """Relative POSIX paths of every file under ``folder`` (subfolders included), sorted."""
    folder = Path(folder)
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def write_manifest(folder: str | Path, seed: int | None = None) -> dict:
    """Write ``manifest.json`` listing every file in ``folder`` (atomically); return it.

    Parameters
    ----------
    folder : str or Path
        A complete run folder (its files are not changed afterwards).
    seed : int, optional
        The run's seed, recorded for provenance.

    Returns
    -------
    dict
        ``format``, ``format_version``, ``tinyhar_version``, ``created`` (UTC,
        ISO 8601), ``seed``, ``files`` (relative POSIX path -> ``{"sha256",
        "bytes"}``).
    """
    import tinyhar

    folder = Path(folder)
    files = {}
    for name in list_files(folder):
        if name == MANIFEST_FILE:
            continue
        p = folder / name
        with open(p, "rb") as f:  # flush to disk before the rename makes the run visible
            with contextlib.suppress(OSError):
                os.fsync(f.fileno())
        files[name] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "tinyhar_version": tinyhar.__version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "files": files,
    }
    write_text_atomic(folder / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    fsync_dir(folder)
    return manifest


def replace_folder(tmp: Path, out: Path) -> None:
    """Rename the complete folder ``tmp`` to ``out``, replacing what is there.

    An existing ``out`` is first renamed to a trash sibling (put back if the
    second rename fails), so a reader finds the old folder or the new one,
    never a mix; the trash is then deleted. The caller has checked that
    ``out`` may be replaced (and, for run folders, holds the lock).

    Parameters
    ----------
    tmp : Path
        The complete new folder, a sibling of ``out`` (same file system).
    out : Path
        The destination.
    """
    if out.exists():
        trash = sibling_path(out, "trash")
        os.rename(out, trash)
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(trash, out)
            raise
        shutil.rmtree(trash, ignore_errors=True)
        if trash.exists():
            warnings.warn(f"{trash}: the replaced run could not be fully deleted", stacklevel=4)
    else:
        os.rename(tmp, out)
    fsync_dir(out.parent)


@contextlib.contextmanager
def write_run(
    out_dir: str | Path, overwrite: bool = False, *, seed: int | None = None
) -> Iterator[Path]:
    """Write a run folder atomically: yield a temporary folder, commit it on success.

    On entry: ``out_dir`` is checked (not empty, not a file, not the current
    folder), a lock is taken next to it, leftovers of killed runs are cleaned
    up, and an existing non-empty ``out_dir`` is refused unless ``overwrite``
    (and even then only a tinyhar run folder is replaced). The block writes
    every file into the yielded folder. When it ends without an exception,
    ``manifest.json`` is written last and the folder is renamed to
    ``out_dir`` (see the module docstring). On any exception, including
    ``KeyboardInterrupt``, the temporary folder is deleted and ``out_dir`` is
    left as it was.

    Parameters
    ----------
    out_dir : str or Path
        The run folder to create or replace (parents are created).
    overwrite : bool, default False
        Replace an existing run folder.
    seed : int, optional
        Recorded in the manifest.

    Yields
    ------
    Path
        The temporary folder to write the run's files into.

    Raises
    ------
    TinyharError
        Empty path, a file, the current folder; an existing non-empty folder
        without ``overwrite``; a folder that is not a run with ``overwrite``;
        another run writing the same folder; the folder cannot be written
        (disk full, no permission), in which case nothing was changed.
    """
    out = _check_out(out_dir)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TinyharError(f"{out.parent}: cannot create the folder ({exc})") from None
    lock = _Lock(out)
    try:
        lock.acquire()
    except OSError as exc:
        raise TinyharError(f"{out.parent}: cannot write here ({exc})") from None
    tmp = None
    try:
        _recover(out)
        if out.exists() and any(out.iterdir()):
            if not overwrite:
                raise TinyharError(
                    f"{out} already exists and is not empty: add --overwrite to replace it "
                    "(overwrite=True in Python), or choose another --out"
                )
            if not _is_run_folder(out):
                raise TinyharError(
                    f"{out} is not a tinyhar run folder (no {MANIFEST_FILE}); --overwrite only "
                    "replaces run folders: choose another --out or remove it yourself"
                )
        tmp = sibling_path(out, "tmp")
        tmp.mkdir()
        yield tmp
        interrupts.check()  # a Ctrl-C swallowed during the run still stops the commit
        write_manifest(tmp, seed=seed)
        interrupts.check()
        replace_folder(tmp, out)
        tmp = None
    except OSError as exc:  # disk full, no permission: a message, not a traceback
        raise TinyharError(
            f"{out}: the run stopped ({exc}); {out} was left as it was"
        ) from exc
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        lock.release()


# --------------------------------------------------------------------------- reading


@dataclass
class Run:
    """A checked run folder, loaded once (made by :func:`load_run`).

    Every command that reads a trained run (export, simulate, deploy,
    evaluate, predict) takes a :class:`Run`: the folder is checked against its
    manifest once, and each part is read from its file on first use and kept.

    Attributes
    ----------
    path : Path
        The run folder.
    manifest : dict
        Its ``manifest.json`` (see :func:`write_manifest`).
    pipeline : HarPipeline
        The fitted pipeline (loaded by :func:`load_run`).
    spec : WindowSpec
        The window layout the model reads (from the pipeline file).
    config : TrainConfig
        The resolved configuration (loaded on first use).
    metrics : dict
        The content of ``metrics.json`` (loaded on first use).
    postprocess : PostProcessor or None
        The fitted post-processing of ``postprocess.json`` (loaded on first
        use); None for runs without one.
    test_windows : WindowSet or None
        The stored windows of test subjects the final model never saw
        (:data:`TEST_WINDOWS_FILE`); None when the run has none, and then
        :attr:`test_windows_note` says why.
    """

    path: Path
    manifest: dict = field(repr=False)

    def file(self, name: str) -> Path:
        """Path of a file the manifest lists (checked by :func:`load_run`).

        Raises
        ------
        TinyharError
            The run has no such file.
        """
        if name not in self.manifest["files"]:
            raise TinyharError(
                f"{self.path}: the run has no {name} (not in its {MANIFEST_FILE}); "
                f"{_retrain_hint(self.path)}"
            )
        return self.path / name

    def has(self, name: str) -> bool:
        """Whether the run's manifest lists ``name``."""
        return name in self.manifest["files"]

    @cached_property
    def pipeline(self) -> Any:
        """The fitted pipeline (:meth:`HarPipeline.load` of the checked file)."""
        from tinyhar.models.pipeline import PIPELINE_FILE, HarPipeline

        return HarPipeline.load(self.file(PIPELINE_FILE))

    @property
    def spec(self) -> Any:
        """The :class:`~tinyhar.core.spec.WindowSpec` of the run's model (from its pipeline)."""
        return self.pipeline.spec

    @property
    def is_network(self) -> bool:
        """Whether the model is a neural network reading raw windows (no feature extractor)."""
        return self.pipeline.extractor is None

    @cached_property
    def config(self) -> Any:
        """The resolved configuration (:func:`tinyhar.config.load_config`)."""
        from tinyhar.config import load_config

        return load_config(self.file(CONFIG_FILE))

    @cached_property
    def metrics(self) -> dict:
        """The content of ``metrics.json``."""
        path = self.file(METRICS_FILE)
        try:
            metrics = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TinyharError(
                f"{path}: not valid JSON ({exc}); {_retrain_hint(self.path)}"
            ) from None
        if not isinstance(metrics, dict):
            raise TinyharError(f"{path}: not a metrics object; {_retrain_hint(self.path)}")
        return metrics

    @cached_property
    def postprocess(self) -> Any:
        """The fitted :class:`~tinyhar.postprocess.PostProcessor`, or None when the run has none.

        Raises
        ------
        TinyharError
            ``postprocess.json`` is not valid JSON or not a post-processor of
            the run's classes.
        """
        from tinyhar.postprocess import PostProcessor

        if not self.has(POSTPROCESS_FILE):
            return None
        path = self.file(POSTPROCESS_FILE)
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            return PostProcessor.from_dict(state, classes=self.pipeline.classes)
        except (UnicodeDecodeError, json.JSONDecodeError, TinyharError) as exc:
            raise TinyharError(f"{path}: {exc}; {_retrain_hint(self.path)}") from None

    @cached_property
    def test_windows(self) -> Any:
        """The stored windows of unseen test subjects, or None (see :attr:`test_windows_note`).

        Returns
        -------
        WindowSet or None
            Shape ``(n_windows, n_samples, n_channels)`` in the model's
            channel order, labelled, with subjects and sessions.

        Raises
        ------
        TinyharError
            The file is listed but unreadable, or its windows do not have the
            model's window spec.
        """
        from tinyhar.core.windowfile import load_windows
        from tinyhar.errors import DataFormatError

        if not self.has(TEST_WINDOWS_FILE):
            return None
        path = self.file(TEST_WINDOWS_FILE)
        try:
            windows = load_windows(path)
        except DataFormatError as exc:
            raise TinyharError(f"{exc}; {_retrain_hint(self.path)}") from None
        if windows.spec != self.spec:
            raise TinyharError(
                f"{path}: windows of {windows.spec.describe()}, but the model reads "
                f"{self.spec.describe()}; {_retrain_hint(self.path)}"
            )
        return windows

    @property
    def test_windows_note(self) -> str | None:
        """Why :attr:`test_windows` is None (None when the run has test windows)."""
        if self.has(TEST_WINDOWS_FILE):
            return None
        metrics = self.metrics if self.has(METRICS_FILE) else {}
        note = metrics.get("test_windows_note")
        if note:
            return str(note)
        return (
            f"the run has no {TEST_WINDOWS_FILE}: it was trained by an older tinyhar, which "
            f"did not store its test windows; {_retrain_hint(self.path)}"
        )


RunFolder = Run
"""Former name of :class:`Run`."""


def write_test_windows(folder: str | Path, windows: Any) -> str | None:
    """Store a run's test windows as :data:`TEST_WINDOWS_FILE` in the folder being written.

    Called inside :func:`write_run`, so the file is committed atomically with
    the run and listed in its manifest. The test windows are a convenience for
    the exports' self-check, not a result: when they cannot be written (disk
    full, quota), the partial file is removed and the run goes on without
    them, so the metrics computed next are not lost.

    Parameters
    ----------
    folder : str or Path
        The temporary run folder :func:`write_run` yields.
    windows : WindowSet
        At most :data:`MAX_TEST_WINDOWS` windows, in the model's channel order.

    Returns
    -------
    str or None
        None when written; else why not (the run's ``test_windows_note``).
    """
    from tinyhar.core.windowfile import save_windows

    path = Path(folder) / TEST_WINDOWS_FILE
    try:
        save_windows(windows, path)
    except OSError as exc:
        path.unlink(missing_ok=True)
        return (f"the test windows could not be written ({exc.strerror or exc}); the exports' "
                "self-check needs them: free some space and train again")
    return None


def _manifest_error(run: Path, what: str) -> TinyharError:
    return TinyharError(f"{run / MANIFEST_FILE}: {what}; {_retrain_hint(run)}")


def _read_manifest(run: Path) -> dict:
    path = run / MANIFEST_FILE
    if not path.is_file():
        from tinyhar.models.pipeline import LEGACY_PIPELINE_FILE, PIPELINE_FILE

        looks_like_run = any(
            (run / n).exists()
            for n in (PIPELINE_FILE, LEGACY_PIPELINE_FILE, CONFIG_FILE, METRICS_FILE)
        )
        if not looks_like_run and not _siblings(run, "tmp"):
            raise TinyharError(
                f"{run}: not a run folder written by `tinyhar train` (no {MANIFEST_FILE}, no "
                f"pipeline); train one first: tinyhar train --out {run}"
            )
        if (run / LEGACY_PIPELINE_FILE).exists():
            why = (
                f"it was made by an older tinyhar whose model file {LEGACY_PIPELINE_FILE} is a "
                "pickle, which tinyhar no longer loads because loading a pickle can run code"
            )
        elif _siblings(run, "tmp"):
            why = "a training into it is running or was interrupted"
        else:
            why = "it was not completed by `tinyhar train` or was made by an older tinyhar"
        raise TinyharError(
            f"{run}: no {MANIFEST_FILE}, so this is not a complete run folder ({why}); "
            f"{_retrain_hint(run)}"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _manifest_error(run, f"not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise _manifest_error(run, f"not a run manifest (format is not {MANIFEST_FORMAT!r})")
    version = manifest.get("format_version")
    if version != MANIFEST_VERSION:
        raise TinyharError(
            f"{path}: run folder format version {version!r}; this tinyhar "
            f"({_tinyhar_version()}) reads version {MANIFEST_VERSION}: use the tinyhar that "
            f"wrote it (tinyhar {manifest.get('tinyhar_version')}) or {_retrain_hint(run)}"
        )
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise _manifest_error(run, "no 'files' mapping")
    for name, entry in files.items():
        parts = name.split("/")
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or not isinstance(entry.get("bytes"), int)
            or name.startswith("/")
            or "\\" in name
            or any(p in ("", ".", "..") for p in parts)
            or name == MANIFEST_FILE
        ):
            raise _manifest_error(run, f"bad entry for {name!r}")
    return manifest


def _tinyhar_version() -> str:
    import tinyhar

    return tinyhar.__version__


def is_later_output(name: str) -> bool:
    """Whether a relative POSIX path may be in a run folder without being in its manifest."""
    base = name.rsplit("/", 1)[-1]
    if base in _IGNORED_NAMES:
        return True
    return any(fnmatch.fnmatch(name, pat) for pat in LATER_OUTPUTS)


def check_run(run_dir: str | Path) -> dict:
    """Check a run folder against its manifest; return the manifest.

    Every file the manifest lists must be present with the listed size and
    SHA-256; every other file must be a later output (:data:`LATER_OUTPUTS`).

    Raises
    ------
    TinyharError
        No such folder, no or an unreadable manifest, an unknown format
        version, a missing, changed or unexpected file; the message names the
        file and says how to get a good run folder again.
    """
    run = Path(run_dir)
    if not run.is_dir():
        if run.exists():
            raise TinyharError(f"{run} is a file, not a run folder written by `tinyhar train`")
        trash, tmp = _siblings(run, "trash"), _siblings(run, "tmp")
        hint = ""
        if trash:
            hint = (
                f"; an interrupted --overwrite left the previous run in {trash[-1]}: rename "
                f"it back to {run.name}"
            )
        elif tmp:
            hint = f"; a training into it is running or was interrupted ({tmp[-1].name})"
        raise TinyharError(f"{run}: no such run folder{hint}")
    manifest = _read_manifest(run)
    files = manifest["files"]
    for name, entry in files.items():
        p = run / name
        if not p.is_file():
            raise TinyharError(
                f"{p}: listed in {MANIFEST_FILE} but missing, so the run folder is incomplete; "
                f"{_retrain_hint(run)}"
            )
        size = p.stat().st_size
        if size != entry["bytes"] or sha256_file(p) != entry["sha256"]:
            raise TinyharError(
                f"{p}: changed since training (its size or SHA-256 differs from "
                f"{MANIFEST_FILE}), so the run folder was altered or damaged; "
                f"{_retrain_hint(run)}"
            )
    for name in list_files(run):
        if name != MANIFEST_FILE and name not in files and not is_later_output(name):
            raise TinyharError(
                f"{run / name}: not written by this run (not in {MANIFEST_FILE}); move it out "
                f"of the run folder, or {_retrain_hint(run)}"
            )
    return manifest


def load_run(run_dir: str | Path | Run) -> Run:
    """Check a run folder (:func:`check_run`) and load its pipeline.

    Parameters
    ----------
    run_dir : str, Path or Run
        A run folder written by ``tinyhar train`` (a :class:`Run` is returned
        as it is, so functions can take either).

    Returns
    -------
    Run
        With ``pipeline`` loaded; ``config``, ``metrics`` and
        ``test_windows`` load on first use.

    Raises
    ------
    TinyharError
        The folder is missing, incomplete, altered, has no pipeline, or its
        pipeline cannot be read.
    """
    from tinyhar.models.pipeline import PIPELINE_FILE

    if isinstance(run_dir, Run):
        return run_dir
    run = Run(Path(run_dir), check_run(run_dir))
    if not run.has(PIPELINE_FILE):
        raise _manifest_error(run.path, f"the run has no {PIPELINE_FILE}")
    _ = run.pipeline
    return run

"""Features of a whole data set, computed session by session and cached on disk.

For data sets larger than memory (thousands of hours), the raw samples and
raw windows are never held all at once: each session
(:class:`tinyhar.datasets.sessions.SessionSource`) is read in batches of
rows (:meth:`~tinyhar.datasets.sessions.SessionSource.iter_batches`), each
batch cut into the windows :func:`tinyhar.windows.windowing.make_windows`
would cut from the whole session (:class:`SessionWindows`: the samples a
window needs are carried over from one batch to the next) and turned into
features before the next batch is read, and only the feature rows are kept:
a :class:`FeatureTable` ``(n_windows, n_features)`` float32 with each
window's label, subject, session and start time. Tree models train on that
table alone. Memory per session: one batch of samples and its windows, plus
the session's feature rows (a long session, e.g. 24 h, is not held whole).

Cache: each session's rows are stored as one Parquet file under the cache
folder, named by a BLAKE2b key of (the session's file bytes and definition,
the windowing settings, the feature settings and names, tinyhar's version).
A second training with another model reads them back instead of recomputing;
a changed source file changes the key, so a stale entry is never used (it is
simply not found and the rows are recomputed). Entries are written atomically
(temporary file + rename), so a crash never leaves a half entry. With its rows
an entry keeps the session's gravity sums
(:class:`~tinyhar.windows.gravity.GravitySums`: the standing windows' mean
acceleration per subject, for the run's gravity reference); an entry written
before they were kept is taken as absent and rewritten.

The rows equal those of the in-memory path (load everything, window,
transform) bit for bit on the same machine: the same windows (same samples,
labels and start times) go through the same feature code, session by session
in the same order, whatever the batch size. With ``stack_previous`` the rows
are stacked once per session, after its last batch.

Streams: when post-processing is fitted or scored on whole streams, the same
read of a session also gives the features of *every* window of its stream
(:class:`StreamRows`, resolved to a
:class:`~tinyhar.features.streams.StreamFeatures`: impure and unlabelled
windows included, at the streaming hop), so no session is read twice. The
training windows are among the stream windows (same length, hop and start
times): they refer to their training rows (``train_row``), and only the other
windows are featurised and kept (a few percent more rows on HAR data with
short transitions; more where much is unlabelled). The stream rows are cached
next to the training rows (a second entry per session, same key plus
``stream``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.core.files import atomic_file
from tinyhar.core.memory import trim_heap
from tinyhar.errors import ConfigError, TinyharError
from tinyhar.windows.cutting import ambiguous_windows
from tinyhar.windows.gravity import GravitySums

CACHE_FORMAT = 1
"""Version of the cache entries' layout (part of every key)."""


def _id_column(column) -> np.ndarray:
    """A string column of a cache entry as an object array holding each distinct value once
    (``to_pylist`` made a string per row)."""
    codes = column.combine_chunks().dictionary_encode()
    values = np.asarray(codes.dictionary.to_pylist() + [None], dtype=object)
    indices = codes.indices.to_numpy(zero_copy_only=False)
    return values[np.where(codes.indices.is_null().to_numpy(zero_copy_only=False), -1,
                           indices).astype(np.intp)]


_TRIM_EVERY_BYTES = 64 * 2**20
"""While :class:`TableBuilder` copies parts, return their freed memory this often."""

_GROW_BYTES = 32 * 2**20
"""The most spare capacity :class:`TableBuilder` adds when it grows (it adds as much as it
holds, up to this), and the largest piece of rows it moves at once when ordering them."""


@dataclass
class FeatureTable:
    """Feature rows of windows, with what each window is.

    Attributes
    ----------
    X : numpy.ndarray of float32, shape (n_windows, n_features)
        Model inputs (as :meth:`tinyhar.models.pipeline.HarPipeline.transform`).
    y, subject, session : numpy.ndarray of str (object), shape (n_windows,)
        Majority label (``""`` = unlabelled), subject and session per window.
    start_time : numpy.ndarray of float64, shape (n_windows,)
        Window start in s from the session start.
    feature_names : list of str
        Name of each column of ``X``.
    counts : dict
        Windowing counts summed over sessions (``n_windows``, ``n_ambiguous``,
        ``n_unlabelled``, ``n_gaps``, ...: :class:`~tinyhar.windows.windowing.WindowingReport`).
    gravity_sums : GravitySums or None
        The windows' mean acceleration summed per (subject, class) for the
        classes named like the standing class, for the run's gravity
        reference (:class:`~tinyhar.windows.gravity.GravitySums`):
        summed over sessions like ``counts``, not reordered or subset with the
        rows. None without accelerometer axes or without windows (or for rows
        not from :func:`run_session_job`).
    """

    X: np.ndarray
    y: np.ndarray
    subject: np.ndarray
    session: np.ndarray
    start_time: np.ndarray
    feature_names: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    gravity_sums: GravitySums | None = None

    def __len__(self) -> int:
        return int(self.X.shape[0])

    @classmethod
    def concatenate(cls, parts: list[FeatureTable], feature_names: list[str],
                    order_rows: Callable[[FeatureTable], np.ndarray] | None = None
                    ) -> FeatureTable:
        """Rows of ``parts`` in one table, emptying ``parts`` as they are copied.

        Parameters
        ----------
        parts : list of FeatureTable
            Consumed: each part is removed from the list once its rows are
            copied, so the peak memory is one table plus one part, not two tables.
        feature_names : list of str
        order_rows : callable, optional
            As :meth:`TableBuilder.table`. Default: parts' order.

        Returns
        -------
        FeatureTable
        """
        rows = TableBuilder(feature_names)
        while parts:
            rows.append(parts.pop(0))
        return rows.table(order_rows)

    @classmethod
    def empty(cls, feature_names: list[str]) -> FeatureTable:
        """A table of no rows."""
        none = np.zeros(0, dtype=object)
        return cls(np.zeros((0, len(feature_names)), np.float32), none, none.copy(), none.copy(),
                   np.zeros(0), list(feature_names))

    @property
    def nbytes(self) -> int:
        """Bytes of the feature matrix."""
        return int(self.X.nbytes)


class TableBuilder:
    """Feature rows appended part by part (e.g. session by session, as they arrive) into one
    matrix, then put in the order the caller chooses.

    Each part's rows are copied into one growing ``(n_windows, n_features)``
    float32 matrix as the part comes (``numpy.ndarray.resize``: on Linux a
    large buffer grows in place or by remapping its pages, without copying
    the rows already there), so the part can be freed at once and the copy
    happens while the next results are computed (by the workers of
    :func:`tinyhar.compute.map_in_order`), not all at the end. :meth:`table`
    then orders the rows in place: the longest increasing prefix of the
    order moves forward within the matrix, only the rows after it go through
    a temporary copy (for "training subjects first, then test subjects": the
    test rows). Peak memory: the table plus those rows (plus spare capacity
    while rows come: as much as the rows so far, at most :data:`_GROW_BYTES`).

    Parameters
    ----------
    feature_names : list of str
        Names of the columns (each part has these columns).
    """

    def __init__(self, feature_names: list[str]) -> None:
        self.feature_names = list(feature_names)
        self._empty()

    def _empty(self) -> None:
        """No rows (the state of a new builder, and of one whose table was taken)."""
        self._X = np.empty((0, len(self.feature_names)), np.float32)
        self._n = 0
        self._labels: dict[str, list[np.ndarray]] = {
            a: [] for a in ("y", "subject", "session", "start_time")}
        self._counts: dict[str, int] = {}
        self._gravity: GravitySums | None = None
        self._freed = 0

    def __len__(self) -> int:
        return self._n

    def append(self, part: FeatureTable) -> None:
        """Copy the rows of ``part`` (``(n, n_features)``) after those appended so far.

        Raises
        ------
        ValueError
            ``part`` has another number of columns.
        """
        k, width = part.X.shape
        if width != self._X.shape[1]:
            raise ValueError(f"a part of {width} feature columns; the table has "
                             f"{self._X.shape[1]}")
        if self._n + k > len(self._X):  # grow by what it holds, at most _GROW_BYTES at a time
            spare = min(self._n + k, _GROW_BYTES // max(1, 4 * width))  # (many small parts:
            self._X.resize((self._n + k + spare, width), refcheck=False)  # no big zero-fill)
        self._X[self._n:self._n + k] = part.X
        self._n += k
        for a, kept in self._labels.items():
            kept.append(getattr(part, a))
        for key, value in part.counts.items():
            self._counts[key] = self._counts.get(key, 0) + int(value)
        if part.gravity_sums is not None:
            if self._gravity is None:
                self._gravity = GravitySums()
            self._gravity.update(part.gravity_sums)
        self._freed += part.X.nbytes
        if self._freed > _TRIM_EVERY_BYTES:  # the parts are small: the C heap keeps them
            self._freed = 0  # when freed (1,000 h: 2.2 GB next to the table), unless told
            trim_heap()

    def table(self, order_rows: Callable[[FeatureTable], np.ndarray] | None = None
              ) -> FeatureTable:
        """The rows appended, in order; the builder is empty afterwards.

        Parameters
        ----------
        order_rows : callable, optional
            Called with the rows' labels only (``X`` of shape ``(n, 0)``);
            returns the row indices of the output in order (a permutation, or
            a subset: rows it leaves out are dropped). Default: the order of
            appending.

        Returns
        -------
        FeatureTable
            ``X`` of shape ``(n_rows, n_features)``, float32, C-ordered.
        """
        n, width = self._n, self._X.shape[1]
        if n == 0:
            self._empty()
            return FeatureTable.empty(self.feature_names)
        labels = FeatureTable(np.empty((n, 0), np.float32),
                              *(np.concatenate(v) for v in self._labels.values()),
                              list(self.feature_names), self._counts, self._gravity)
        X = self._X
        self._empty()
        if X.nbytes > _TRIM_EVERY_BYTES:  # the freed parts' memory back (not for a session's
            trim_heap()  # few rows: 0.2 ms each, thousands of short sessions)
        columns = [labels.y, labels.subject, labels.session, labels.start_time]
        if order_rows is not None:
            order = np.asarray(order_rows(labels), np.intp)
            _arrange_rows(X, order)
            n = len(order)
            columns = [c[order] for c in columns]
        X.resize((n, width), refcheck=False)  # gives the spare capacity back
        return FeatureTable(X, *columns, list(self.feature_names), labels.counts,
                            labels.gravity_sums)


def _arrange_rows(X: np.ndarray, order: np.ndarray) -> None:
    """``X[:len(order)] = X[order]`` in place, with a copy of only the rows after ``order``'s
    longest increasing prefix.

    ``X`` is ``(n, n_features)``; ``order`` holds distinct row indices. The
    prefix ``order[:k]`` is increasing, so ``order[i] >= i``: moving rows
    forward in that order never overwrites a row still to be moved. Runs of
    consecutive rows move as slices (memory moves), in pieces of at most
    :data:`_GROW_BYTES`.
    """
    if len(order) and (order.min() < 0 or order.max() >= len(X)):
        raise ValueError(f"row indices must be in 0..{len(X) - 1}")
    steps = np.flatnonzero(np.diff(order) <= 0)
    k = int(steps[0]) + 1 if len(steps) else len(order)
    rest = X[order[k:]]  # a copy: these rows may be overwritten below
    prefix = order[:k]
    breaks = np.flatnonzero(np.diff(prefix) != 1) + 1  # runs of consecutive source rows
    piece = max(1, _GROW_BYTES // max(1, X.strides[0]))
    for a, b in zip(np.r_[0, breaks], np.r_[breaks, k], strict=True):
        source = int(prefix[a])
        if source == a:  # already in place
            continue
        for start in range(int(a), int(b), piece):  # ascending: the sources stay ahead
            stop = min(int(b), start + piece)
            X[start:stop] = X[source + start - a:source + stop - a]
    X[k:len(order)] = rest


def settings_key(settings: dict[str, Any]) -> str:
    """Canonical JSON text of windowing + feature settings (part of a cache key)."""
    from tinyhar import __version__

    return json.dumps({"format": CACHE_FORMAT, "tinyhar": __version__, **settings},
                      sort_keys=True, default=str)


class DamagedCacheEntryWarning(UserWarning):
    """A feature-cache entry that exists but cannot be read (cut short by a full disk or a
    killed run, or otherwise damaged): it is treated as absent, so what it held is computed
    again and the entry rewritten (:class:`FeatureCache`)."""


def _read_entry(path: Path, read: Callable[[Path], Any]) -> Any:
    """``read(path)`` of the cache entry ``path``; None when it is absent, or cannot be read (a
    :class:`DamagedCacheEntryWarning` naming it: the caller computes it again and rewrites
    it, atomically)."""
    import warnings

    from tinyhar.modelfile import _READ_ERRORS  # what a cut or damaged .npz raises too

    if not path.is_file():
        return None
    try:
        return read(path)
    except (*_READ_ERRORS, TypeError) as exc:
        warnings.warn(f"{path}: a damaged feature-cache entry ({type(exc).__name__}: {exc}); "
                      "its content is computed again and the entry rewritten",
                      DamagedCacheEntryWarning, stacklevel=3)
        return None


class FeatureCache:
    """Per-session feature rows stored as Parquet files in a folder.

    Parameters
    ----------
    root : str or Path
        The cache folder (created on first write).

    Notes
    -----
    Entries are ``<key>.parquet`` with columns ``y``, ``subject``,
    ``session``, ``start_time`` and ``features`` (a fixed-size list of
    float32); the feature names, windowing counts and gravity sums
    (:meth:`GravitySums.to_records <tinyhar.windows.gravity.GravitySums.to_records>`,
    or null without accelerometer axes) are in the file's metadata. Nothing
    in an entry is executed when read. Every entry is written atomically
    (a temporary file renamed); an entry that cannot be read all the same
    (a damaged disk, a copy cut short) is a miss, with a
    :class:`DamagedCacheEntryWarning` naming it, and is rewritten by the
    caller.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def check_writable(self, setting: str = "compute.cache") -> None:
        """Create the folder now and check that files can be written in it, so that a bad
        folder stops a run before any session is read, not in its first worker.

        Raises
        ------
        ConfigError
            The folder is a file, or cannot be created or written (naming
            ``setting`` and the folder).
        """
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"{setting}: {self.root} is a file, not a folder; name a folder "
                              "for the feature cache (it is created if missing)")
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".write-check.")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise ConfigError(f"{setting}: cannot write the feature cache folder {self.root} "
                              f"({exc.strerror or exc}); choose a folder you can write, or "
                              f"leave {setting} unset") from exc

    def key(self, fingerprint: str, settings_text: str) -> str:
        """Entry name for a source fingerprint and :func:`settings_key` text."""
        digest = hashlib.blake2b(digest_size=20)
        digest.update(fingerprint.encode() + b"\x00" + settings_text.encode())
        return digest.hexdigest()

    def path(self, key: str) -> Path:
        """File of entry ``key``."""
        return self.root / f"{key}.parquet"

    def get(self, key: str) -> FeatureTable | None:
        """The cached rows, or None when absent.

        An entry written before the gravity sums were stored (its metadata
        has no ``gravity``) is absent too: its rows are computed again and
        the entry rewritten, so a run never takes its gravity reference from
        part of its sessions.

        Warns
        -----
        DamagedCacheEntryWarning
            The entry exists but cannot be read (then None).
        """
        return _read_entry(self.path(key), self._rows)

    @staticmethod
    def _rows(path: Path) -> FeatureTable | None:
        """The rows of the existing entry ``path`` (:meth:`get`)."""
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[b"tinyhar_features"])
        if "gravity" not in meta:  # an older entry: without the gravity sums
            return None
        names = [str(n) for n in meta["feature_names"]]
        flat = table.column("features").combine_chunks().flatten().to_numpy()
        X = np.asarray(flat, dtype=np.float32).reshape(table.num_rows, len(names))
        return FeatureTable(
            X,
            *(_id_column(table.column(c)) for c in ("y", "subject", "session")),
            table.column("start_time").to_numpy().astype(np.float64),
            names, {str(k): int(v) for k, v in meta["counts"].items()},
            None if meta["gravity"] is None else GravitySums.from_records(meta["gravity"]),
        )

    def put(self, key: str, rows: FeatureTable) -> Path:
        """Store ``rows`` atomically; returns the entry's path."""
        import pyarrow as pa

        n_features = len(rows.feature_names)
        values = pa.array(np.ascontiguousarray(rows.X, dtype=np.float32).reshape(-1))
        table = pa.table({
            "y": pa.array([str(v) for v in rows.y], pa.string()),
            "subject": pa.array([str(v) for v in rows.subject], pa.string()),
            "session": pa.array([str(v) for v in rows.session], pa.string()),
            "start_time": pa.array(rows.start_time, pa.float64()),
            "features": pa.FixedSizeListArray.from_arrays(values, n_features),
        })
        meta = {"feature_names": rows.feature_names, "counts": rows.counts,
                "gravity": (None if rows.gravity_sums is None
                            else rows.gravity_sums.to_records())}
        return self._write(key, table, {"tinyhar_features": json.dumps(meta)})

    def get_stream(self, key: str) -> StreamRows | None:
        """The cached stream rows (:class:`StreamRows`), or None when the entry is absent or
        cannot be read (then with a :class:`DamagedCacheEntryWarning`, as :meth:`get`)."""
        return _read_entry(self.path(key), self._stream_rows)

    @staticmethod
    def _stream_rows(path: Path) -> StreamRows:
        """The stream rows of the existing entry ``path`` (:meth:`get_stream`)."""
        import pyarrow.parquet as pq

        from tinyhar.features.streams import StreamFeatures

        table = pq.read_table(path)
        meta = json.loads(table.schema.metadata[b"tinyhar_stream"])
        n, width = table.num_rows, int(meta["n_features"])
        invalid = table.column("invalid").to_numpy(zero_copy_only=False).astype(bool)
        train_row = table.column("train_row").to_numpy().astype(np.int64)
        flat = table.column("features").combine_chunks().flatten().to_numpy()
        features = np.asarray(flat, np.float32).reshape(n, width)[~invalid & (train_row < 0)]
        gravity = None
        if "gravity" in table.column_names:
            g = table.column("gravity").combine_chunks().flatten().to_numpy()
            gravity = np.asarray(g, np.float64).reshape(n, 3)
        text = {k: np.asarray(table.column(k).to_pylist(), dtype=object)
                for k in ("session", "subject", "y")}
        num = {k: table.column(k).to_numpy() for k in ("run", "t_start", "t_end",
                                                        "acc_magnitude")}
        return StreamRows(StreamFeatures(
            text["session"], text["subject"], num["run"].astype(np.int64),
            num["t_start"].astype(np.float64), num["t_end"].astype(np.float64), text["y"],
            invalid, num["acc_magnitude"].astype(np.float64), gravity, features,
            float(meta["window_s"]), float(meta["hop_s"]),
        ), train_row)

    def put_stream(self, key: str, stream: StreamRows) -> Path:
        """Store stream rows (:class:`StreamRows`) atomically.

        Windows without features here (invalid ones, and those whose features
        are training rows: ``train_row``) have zeros in the ``features`` column.
        """
        import pyarrow as pa

        rows, n = stream.facts, len(stream)
        width = int(rows.features.shape[1]) if rows.features.ndim == 2 else 0
        full = np.zeros((n, width), np.float32)
        full[~rows.invalid & (stream.train_row < 0)] = rows.features.reshape(-1, width)
        columns = {
            "train_row": pa.array(stream.train_row, pa.int64()),
            "session": pa.array([str(v) for v in rows.session], pa.string()),
            "subject": pa.array([str(v) for v in rows.subject], pa.string()),
            "y": pa.array([str(v) for v in rows.y], pa.string()),
            "run": pa.array(rows.run, pa.int64()),
            "t_start": pa.array(rows.t_start, pa.float64()),
            "t_end": pa.array(rows.t_end, pa.float64()),
            "invalid": pa.array(rows.invalid, pa.bool_()),
            "acc_magnitude": pa.array(rows.acc_magnitude, pa.float64()),
            "features": pa.FixedSizeListArray.from_arrays(pa.array(full.reshape(-1)), width),
        }
        if rows.gravity is not None:
            columns["gravity"] = pa.FixedSizeListArray.from_arrays(
                pa.array(np.ascontiguousarray(rows.gravity, np.float64).reshape(-1)), 3)
        meta = {"n_features": width, "window_s": rows.window_s, "hop_s": rows.hop_s}
        return self._write(key, pa.table(columns), {"tinyhar_stream": json.dumps(meta)})

    def get_facts(self, key: str) -> dict | None:
        """A small JSON entry ``<key>.json`` (e.g. a session's channels and rate), or None.

        Warns
        -----
        DamagedCacheEntryWarning
            The entry exists but is not a JSON object (then None).
        """
        return _read_entry(self.root / f"{key}.json", lambda path: dict(json.loads(
            path.read_text(encoding="utf-8"))))

    def put_facts(self, key: str, facts: dict) -> Path:
        """Store a small JSON entry ``<key>.json`` atomically."""
        from tinyhar.core.files import write_text_atomic

        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{key}.json"
        write_text_atomic(path, json.dumps(facts, sort_keys=True))
        return path

    def get_windows(self, key: str):
        """Raw windows stored as ``<key>.npz`` (:meth:`put_windows`), or None when absent.

        Returns
        -------
        WindowSet or None
            ``X`` of shape ``(n_windows, n_samples, n_channels)`` float32.

        Warns
        -----
        DamagedCacheEntryWarning
            The entry exists but cannot be read (then None).
        """
        return _read_entry(self.root / f"{key}.npz", self._windows)

    @staticmethod
    def _windows(path: Path):
        """The windows of the existing entry ``path`` (:meth:`get_windows`)."""
        from tinyhar.core.windowset import WindowSet

        with np.load(path, allow_pickle=False) as f:  # plain arrays only: no code runs
            meta = json.loads(str(f["meta"]))
            return WindowSet(
                f["X"].astype(np.float32), *(f[k].astype(object) for k in
                                             ("y", "subject", "session")),
                f["start_time"].astype(np.float64), list(meta["channels"]),
                float(meta["sampling_rate_hz"]), list(meta["classes"]), str(meta["name"]),
                hop_samples=meta["hop_samples"],
            )

    def put_windows(self, key: str, windows) -> Path:
        """Store raw windows (a WindowSet) as ``<key>.npz`` atomically (no pickled objects)."""
        self.root.mkdir(parents=True, exist_ok=True)
        meta = {"channels": list(windows.channels), "classes": list(windows.classes),
                "sampling_rate_hz": float(windows.sampling_rate_hz), "name": str(windows.name),
                "hop_samples": windows.hop_samples}
        path = self.root / f"{key}.npz"
        with atomic_file(path) as tmp:  # the usual permissions (umask): a shared cache
            np.savez_compressed(
                tmp, X=np.asarray(windows.X, np.float32),
                **{k: np.asarray([str(v) for v in getattr(windows, k)], dtype=str)
                   for k in ("y", "subject", "session")},
                start_time=np.asarray(windows.start_time, np.float64),
                meta=np.asarray(json.dumps(meta)))
        return path

    def _write(self, key: str, table, metadata: dict[str, str]) -> Path:
        """Write a table as entry ``key`` atomically (temporary file + rename)."""
        import pyarrow.parquet as pq

        self.root.mkdir(parents=True, exist_ok=True)
        table = table.replace_schema_metadata(metadata)
        path = self.path(key)
        with atomic_file(path) as tmp:  # the usual permissions (umask): a shared cache
            pq.write_table(table, tmp, compression="zstd")
        return path


@dataclass(frozen=True)
class SessionJob:
    """Everything a worker needs to turn one session into feature rows (picklable).

    Attributes
    ----------
    source : SessionSource
        Where the session is (:mod:`tinyhar.datasets.sessions`).
    windowing : dict
        Keyword arguments of :func:`tinyhar.windows.windowing.make_windows`
        (``window``, ``hop``, ``unit``, ``purity``, ``target_rate_hz``,
        ``channels``, ``keep_unlabelled``).
    transformer : object
        Has ``transform(WindowSet) -> ndarray (n_windows, n_features)``
        (a :class:`~tinyhar.models.pipeline.HarPipeline`; its
        :meth:`~tinyhar.models.pipeline.HarPipeline.features_only`, so that a
        worker process unpickling the job does not import scikit-learn).
    feature_names : list of str
    checks : object
        Plausibility checks for loading (``dataset.checks``).
    cache_dir : str or None
        Feature cache folder, or None for no cache.
    settings_text : str
        :func:`settings_key` of the windowing and feature settings (and of how the
        samples are read: checks, session names).
    session_prefix : bool
        Prefix session ids with the subject (``"<subject>-<session>"``), as the
        in-memory loader does when a session name is used by several subjects.
    streams : bool
        Also the features of every window of the session's stream
        (:func:`tinyhar.features.streams.iter_stream_features` with
        ``transformer`` as the pipeline: its window length, streaming hop,
        rate and channels), from the same read.
    batch_rows : int, optional
        Most rows read at a time
        (:meth:`~tinyhar.datasets.sessions.SessionSource.iter_batches`;
        default :data:`~tinyhar.datasets.sessions.BATCH_ROWS`).
    """

    source: Any
    windowing: dict
    transformer: Any
    feature_names: list[str]
    checks: Any = None
    cache_dir: str | None = None
    settings_text: str = ""
    session_prefix: bool = False
    streams: bool = False
    batch_rows: int | None = None


@dataclass
class SessionResult:
    """What :func:`run_session_job` gives back: rows, or the reason a session failed."""

    name: str
    rows: FeatureTable | None
    error: str | None = None
    cached: bool = False
    samples: int = 0
    stream: StreamRows | None = None  # every stream window, when the job asked for them
    fingerprint: str | None = None  # the source's file hash (with a cache: the entries' key)


def run_session_job(job: SessionJob, recordings=None) -> SessionResult:
    """Read, window and featurise one session (or take its rows from the cache).

    The session is read in batches of ``job.batch_rows`` rows
    (:meth:`~tinyhar.datasets.sessions.SessionSource.iter_batches`), each
    cut into windows across the batch boundaries (:func:`iter_session_windows`)
    and featurised before the next is read, so memory holds one batch of
    samples and the feature rows, not the whole session. The rows (and the
    stream rows) are those of the whole session read at once, windowed by
    :func:`~tinyhar.windows.windowing.make_windows` and featurised: the same
    windows in the same order, the same values. A cache entry that cannot be
    read (truncated, damaged) is a miss: the session is read again and the
    entry rewritten, never skipped because of the cache.

    Parameters
    ----------
    job : SessionJob
    recordings : RecordingSet or iterator of RecordingSet, optional
        The session when the caller has read it, or has begun to read it,
        already: the whole session (as ``job.source.load(job.checks,
        job.session_prefix)`` gives it) or its batches in order (e.g. the
        first one read for the data set's layout, then the rest of
        ``iter_batches``). Not read again.

    Returns
    -------
    SessionResult
        ``rows`` of the session's windows (and ``stream`` with ``job.streams``),
        or ``error`` (the message of the
        :class:`~tinyhar.errors.TinyharError` that stopped it: a malformed
        file or batch, a failed check; it names the file and line or row).

    Raises
    ------
    Exception
        Anything that is not a data problem (a bug) is raised, not reported.
    """
    from tinyhar.datasets.recording import RecordingSet

    source = job.source
    cache = FeatureCache(job.cache_dir) if job.cache_dir else None
    try:
        key = stream_key = fingerprint = None
        if cache is not None:
            fingerprint = source.fingerprint()
            key = cache.key(fingerprint, job.settings_text)
            stream_key = cache.key(fingerprint, job.settings_text + "\x00stream")
            rows = cache.get(key)  # (a damaged entry: a miss, read again and rewritten below)
            stream = cache.get_stream(stream_key) if job.streams and rows is not None else None
            if rows is not None and (stream is not None or not job.streams):
                return SessionResult(source.name, rows, cached=True, stream=stream,
                                     fingerprint=fingerprint)
        if recordings is None:
            from tinyhar.datasets.sessions import BATCH_ROWS

            recordings = source.iter_batches(job.checks, job.session_prefix,
                                             job.batch_rows or BATCH_ROWS)
        elif isinstance(recordings, RecordingSet):
            recordings = [recordings]
        rows, stream, samples = _session_rows(job, recordings)
        if cache is not None:
            cache.put(key, rows)
            if stream is not None:
                cache.put_stream(stream_key, stream)
        return SessionResult(source.name, rows, samples=samples, stream=stream,
                             fingerprint=fingerprint)
    except TinyharError as exc:
        return SessionResult(source.name, None, error=str(exc))


class SessionWindows:
    """The windows :func:`~tinyhar.windows.windowing.make_windows` cuts, from batches of rows.

    The batches are never joined: each is cut as it comes (:meth:`add`),
    the samples a window needs carried over to the next (the window cutter
    of :func:`tinyhar.features.streams.iter_stream_windows`, at the training
    hop), and the windows' majority labels and purity are those of
    :func:`~tinyhar.windows.windowing.majority_labels`. So the kept windows
    of all batches (and :meth:`flush`) are those of ``make_windows`` of the
    joined batches, in the same order, with the same samples, labels,
    subjects, sessions and start times, and :attr:`report` has the same
    counts. Memory: one batch plus about one window of samples (with
    resampling, a contiguous part is held until it ends: resampling needs
    it whole, as in ``make_windows``).

    Parameters
    ----------
    window, hop, unit, purity, target_rate_hz, keep_unlabelled, channels
        As :func:`~tinyhar.windows.windowing.make_windows` (lengths rounded
        at the first batch's rate, or the target rate).

    Attributes
    ----------
    report : WindowingReport
        Counts so far (gaps and short segments complete after :meth:`flush`).

    Raises
    ------
    ConfigError
        A purity outside (0, 1].
    """

    def __init__(self, window: float = 2.56, hop: float = 1.28, unit: str = "s",
                 purity: float = 0.8, target_rate_hz: float | None = None,
                 keep_unlabelled: bool = False, channels: list[str] | None = None) -> None:
        from tinyhar.windows.windowing import WindowingReport

        if not 0.0 < purity <= 1.0:
            raise ConfigError(f"purity must be in (0, 1], got {purity!r}")
        self.window, self.hop, self.unit, self.purity = window, hop, unit, purity
        self.target_rate_hz, self.keep_unlabelled = target_rate_hz, keep_unlabelled
        self.channels = channels
        self.report = WindowingReport()
        self.cutter = None

    def add(self, piece) -> Iterator:
        """Windows that one more batch completes.

        Parameters
        ----------
        piece : RecordingSet
            The next rows, in order (g, rad/s; time in s from each session's
            start), e.g. a batch of
            :meth:`tinyhar.datasets.sessions.SessionSource.iter_batches`.

        Yields
        ------
        WindowSet
            Kept windows ``(n, n_samples, n_channels)`` float32 (C order), at
            most :data:`~tinyhar.features.streams.STREAM_CHUNK` at a time.

        Raises
        ------
        DataFormatError
            A requested channel is missing (naming the file).
        """
        if self.cutter is None:
            from tinyhar.features.streams import STREAM_CHUNK, _WindowCutter
            from tinyhar.windows.windowing import to_samples

            rate = float(self.target_rate_hz) if self.target_rate_hz else piece.sampling_rate_hz
            n_win = to_samples(self.window, self.unit, rate, "window")
            self.n_hop = to_samples(self.hop, self.unit, rate, "hop")
            self.cutter = _WindowCutter(n_win, self.n_hop, self.target_rate_hz or None,
                                        self.channels, STREAM_CHUNK, eager=True)
        yield from self._kept(self.cutter.add(piece))

    def flush(self) -> Iterator:
        """The windows left at the end (the batches are all read): as :meth:`add`."""
        if self.cutter is None:
            return
        yield from self._kept(self.cutter.flush())
        report, cutter = self.report, self.cutter
        report.n_gaps += cutter.n_gaps
        report.n_short_segments += cutter.n_short_segments
        report.n_short_samples += cutter.n_short_samples
        cutter.n_gaps = cutter.n_short_segments = cutter.n_short_samples = 0

    def _kept(self, chunks) -> Iterator:
        """The windows of the cutter's chunks that ``make_windows`` keeps, counted."""
        from tinyhar.core.windowset import WindowSet

        report = self.report
        for chunk in chunks:
            w = chunk.windows
            unlabelled = w.y == ""
            # ambiguous_windows reads label 0 as unlabelled: the labelled flag is that label
            ambiguous = ambiguous_windows(~unlabelled, chunk.purity, self.purity)
            report.n_ambiguous += int(np.count_nonzero(ambiguous))
            keep = ~ambiguous
            if not self.keep_unlabelled:
                report.n_unlabelled += int(np.count_nonzero(unlabelled))
                keep &= ~unlabelled
            at = np.flatnonzero(keep)
            if len(at):
                report.n_windows += len(at)
                yield WindowSet(np.ascontiguousarray(w.X[at]), w.y[at], w.subject[at],
                                w.session[at], w.start_time[at], w.channels,
                                w.sampling_rate_hz, w.classes, w.name, hop_samples=self.n_hop)


def iter_session_windows(pieces: Iterable, **windowing) -> Iterator:
    """Every kept window of consecutive batches of rows (:class:`SessionWindows`), in order.

    Parameters
    ----------
    pieces : iterable of RecordingSet
        Consecutive batches of rows of one or more sessions.
    **windowing
        As :class:`SessionWindows`.

    Yields
    ------
    WindowSet
        As :meth:`SessionWindows.add`.
    """
    cut = SessionWindows(**windowing)
    for piece in pieces:
        yield from cut.add(piece)
    yield from cut.flush()


def _session_rows(job: SessionJob, pieces: Iterable):
    """Training rows (and stream rows) of one session's batches, each batch cut as it comes.

    Returns
    -------
    rows : FeatureTable
        With its ``gravity_sums`` (of the kept windows, when the channels
        hold the three accelerometer axes).
    stream : StreamRows or None
        With ``job.streams``.
    samples : int
        Samples read.

    Notes
    -----
    With ``stack_previous`` the rows are featurised without the stacking
    batch by batch and stacked once at the end
    (:func:`tinyhar.features.stacking.stack_previous` on the session's rows:
    what ``transform`` does on the session's windows). A batch is cut into
    training windows before it is cut into stream windows, so a stream
    window that is also a training window finds its row (:class:`_KnownRows`).
    """
    from dataclasses import replace

    pipeline = job.transformer
    stack = bool(getattr(pipeline, "stack_previous", False))
    featurise = replace(pipeline, stack_previous=False) if stack else pipeline
    known = _KnownRows(pipeline) if job.streams and not stack else None
    cut = SessionWindows(**job.windowing)
    parts: list[FeatureTable] = []
    samples = 0
    gravity: GravitySums | None = None  # of the kept windows: one reduction per chunk

    def add_rows(windows) -> None:
        nonlocal gravity
        for w in windows:
            if gravity is None:
                gravity = GravitySums.of(w)  # None without accelerometer axes
            else:
                gravity.add(w)
            part = FeatureTable(np.asarray(featurise.transform(w), np.float32), w.y, w.subject,
                                w.session, w.start_time, [])
            parts.append(part)
            if known is not None:
                known.add(part)

    def read() -> Iterator:
        """The batches, each cut into training windows (and featurised) as it passes."""
        nonlocal samples
        for piece in pieces:
            samples += piece.n_samples
            add_rows(cut.add(piece))
            yield piece
        add_rows(cut.flush())

    stream_parts = []
    if job.streams:
        from tinyhar.features.streams import iter_stream_features

        for part in iter_stream_features(known or pipeline, read()):
            if known is not None and len(part.features):  # it called known.transform
                part.features = part.features[known.found[-1] < 0]  # the rest: training rows
            stream_parts.append(part)
    else:
        for _ in read():
            pass
    if known is not None:
        known.X.clear()  # the rows are in ``parts``: joined below, part by part
    names = list(job.feature_names)
    rows = FeatureTable.concatenate(parts, names[: len(names) // 3] if stack else names)
    if stack:
        from tinyhar.features.stacking import stack_previous

        rows.X = stack_previous(rows.X, rows.session, rows.start_time)
    rows.feature_names = names
    rows.counts = {k: int(v) for k, v in cut.report.as_dict().items()}
    rows.gravity_sums = gravity
    stream = (_stream_rows(stream_parts, len(rows.feature_names), pipeline, known)
              if job.streams else None)
    return rows, stream, samples


@dataclass
class StreamRows:
    """Every window of a session's stream, its training windows' features by reference.

    The form out-of-core training keeps (and caches) a session's stream in:
    the training windows are among the stream windows (same session, start
    time and samples), so their features are the training rows, not a copy;
    only the other valid windows (impure, unlabelled) hold features here.
    :meth:`resolve` gives the full :class:`~tinyhar.features.streams.StreamFeatures`.

    Attributes
    ----------
    facts : StreamFeatures
        The windows; its ``features`` are those of the valid windows without
        a training row only, shape ``(n_extra, n_features)``.
    train_row : numpy.ndarray of int64, shape (n_windows,)
        Index of each window's row among the session's training rows; -1 for
        a window featurised here (or invalid).
    """

    facts: Any
    train_row: np.ndarray

    def __len__(self) -> int:
        return len(self.train_row)

    @property
    def nbytes(self) -> int:
        """Bytes held (object arrays counted as pointers)."""
        return int(self.facts.nbytes + self.train_row.nbytes)

    def resolve(self, X: np.ndarray, rows_at: np.ndarray):
        """The stream with every valid window's features.

        Parameters
        ----------
        X : numpy.ndarray of float32, shape (n_rows, n_features)
            A feature matrix holding the session's training rows.
        rows_at : numpy.ndarray of int, shape (n_session_rows,)
            Where the session's training row ``i`` is in ``X``; -1 for a row
            left out of ``X`` (its windows get NaN features: a subject that
            is neither trained nor tested on, never classified).

        Returns
        -------
        StreamFeatures
        """
        from dataclasses import replace

        valid = ~self.facts.invalid
        tr = self.train_row[valid]
        mine = tr >= 0
        out = np.empty((len(tr), X.shape[1]), np.float32)
        at = np.asarray(rows_at, np.int64)[tr[mine]]
        taken = X[np.maximum(at, 0)]
        taken[at < 0] = np.nan
        out[mine] = taken
        out[~mine] = self.facts.features
        return replace(self.facts, features=out)


def _stream_rows(parts: list, n_features: int, pipeline, known: _KnownRows | None
                 ) -> StreamRows:
    """Every stream window of a session; its training rows referenced, not copied.

    Parameters
    ----------
    parts : list of StreamFeatures
        The session's stream windows as
        :func:`tinyhar.features.streams.iter_stream_features` cuts them, with
        ``known`` (or ``pipeline``) as the pipeline: a window that is also a
        training window (same session and start time: the same samples, cut
        the same way) took its training row there, the others were
        featurised; ``features`` of the latter only (consumed).
    n_features : int
    pipeline : HarPipeline
        Gives the window length, streaming hop and rate.
    known : _KnownRows or None
        None with ``stack_previous`` (the previous window differs: the
        previous kept window in training, the previous valid one in a
        stream): then every stream window was featurised.

    Returns
    -------
    StreamRows
    """
    from tinyhar.features.streams import StreamFeatures

    facts = StreamFeatures.concatenate(parts, n_features,
                                       pipeline.n_samples / pipeline.sampling_rate_hz,
                                       pipeline.streaming_hop / pipeline.sampling_rate_hz)
    parts.clear()
    train_row = np.full(len(facts), -1, np.int64)
    if known is not None and known.found:
        train_row[~facts.invalid] = np.concatenate(known.found)  # per valid window, in order
    if not len(facts.features):
        facts.features = np.zeros((0, n_features), np.float32)
    return StreamRows(facts, train_row)


class _KnownRows:
    """A pipeline whose ``transform`` takes the rows of windows already featurised.

    Training rows are added as they are computed (:meth:`add`). Stream
    windows are named ``"<session>\\x1f<run>"``
    (:func:`~tinyhar.features.streams.iter_stream_features`); a window is
    known when its session and start time are those of a row added. ``found``
    collects, per call, the row of each window (its index among the rows
    added; -1: computed). Everything else is the pipeline's.
    """

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.found: list[np.ndarray] = []
        self.known: dict[tuple[str, float], int] = {}
        self.X: list[np.ndarray] = []  # the rows' features, part by part
        self.first: list[int] = []  # index of each part's first row

    def __getattr__(self, name: str):
        return getattr(self.pipeline, name)

    def add(self, rows: FeatureTable) -> None:
        """Rows that stream windows may refer to (indices go on from the rows before)."""
        n = self.first[-1] + len(self.X[-1]) if self.X else 0
        self.known.update({(str(s), float(t)): n + i for i, (s, t) in
                           enumerate(zip(rows.session, rows.start_time, strict=True))})
        self.X.append(rows.X)
        self.first.append(n)

    def transform(self, windows) -> np.ndarray:
        """Features ``(n_windows, n_features)`` float32: known rows copied, the rest computed."""
        at = np.array([self.known.get((str(s).split("\x1f", 1)[0], float(t)), -1)
                       for s, t in zip(windows.session, windows.start_time, strict=True)],
                      dtype=np.int64)
        self.found.append(at)
        new = np.flatnonzero(at < 0)
        if len(new) == len(at):
            return self.pipeline.transform(windows)
        old = np.flatnonzero(at >= 0)
        out = np.empty((len(at), self.X[0].shape[1]), np.float32)
        part = np.searchsorted(self.first, at[old], side="right") - 1
        for k in np.unique(part):
            mine = part == k
            out[old[mine]] = self.X[k][at[old[mine]] - self.first[k]]
        if len(new):
            out[new] = self.pipeline.transform(windows.subset(new))
        return out


def build_feature_table(
    jobs: Iterable[SessionJob],
    feature_names: list[str],
    map_jobs: Callable[[Callable, list], Iterable] | None = None,
    strict: bool = False,
    on_result: Callable[[SessionResult], None] | None = None,
    order_rows: Callable[[FeatureTable], np.ndarray] | None = None,
) -> tuple[FeatureTable, list[SessionResult]]:
    """Feature rows of every session, in the sessions' order.

    Parameters
    ----------
    jobs : iterable of SessionJob
        One per session, in data-set order.
    feature_names : list of str
    map_jobs : callable, optional
        ``map_jobs(run_session_job, jobs)`` yields the results in order (e.g.
        :func:`tinyhar.compute.map_in_order` over Dask); in this process by
        default.
    strict : bool
        Stop at the first failed session instead of skipping it.
    on_result : callable, optional
        Called with each :class:`SessionResult` as it arrives (progress); its
        ``rows`` are then copied into the table and set to ``None``.
    order_rows : callable, optional
        As :meth:`FeatureTable.concatenate` (e.g. training rows first).

    Returns
    -------
    table : FeatureTable
        The rows of the sessions that worked, concatenated in order.
    failed : list of SessionResult
        The sessions skipped, each with its error message.

    Raises
    ------
    TinyharError
        With ``strict``, the first failed session (its message names the file);
        or a session found in two sources (out-of-core reading needs each
        session in one file, or named by its files).
    """
    jobs = list(jobs)
    results = map_jobs(run_session_job, jobs) if map_jobs else map(run_session_job, jobs)
    rows, failed = TableBuilder(feature_names), []  # copied as they come, not all at the end
    seen: dict[tuple[str, str], str] = {}
    for result in results:
        if on_result is not None:
            on_result(result)
        if result.error is not None:
            if strict:
                raise TinyharError(f"{result.error} (stopped: strict mode; without it the "
                                   "session is skipped and listed)")
            failed.append(result)
        else:
            _check_whole_sessions(seen, result)
            rows.append(result.rows)
            result.rows = None
    return rows.table(order_rows), failed


def _check_whole_sessions(seen: dict[tuple[str, str], str], result: SessionResult) -> None:
    """Refuse a (subject, session) that an earlier source already had
    (:func:`tinyhar.datasets.sessions.check_whole_sessions`)."""
    from tinyhar.datasets.sessions import check_whole_sessions

    check_whole_sessions(
        seen, zip(result.rows.subject, result.rows.session, strict=True), result.name,
        "out-of-core reading needs each session in one file, or its subject and session in "
        "the file names (file_pattern); or, to train, read the data set whole with "
        "compute.out_of_core: false")

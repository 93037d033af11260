"""A data set as a list of sessions that load one at a time (out-of-core reading).

:func:`session_sources` turns a data set (a dataset definition, or a
canonical Parquet file) into :class:`SessionSource` objects: small,
picklable descriptions of where one session's samples are, which a worker
process or a Dask worker loads with :meth:`SessionSource.load`. Nothing is
read while planning except file names, so memory while reading is bounded by
the largest session, not the data set.

A definition's files are grouped by the ``(subject, session)`` their names
give (``file_pattern`` groups and ``constants``; without a session each file
is its own session, as in :func:`tinyhar.datasets.custom.load_custom`). When
subjects or sessions come from a column, each file is read on its own and
must hold whole sessions: a session found in two files is an error naming
both, since joining them would need both in memory.

Each source has a :meth:`~SessionSource.fingerprint`: a BLAKE2b hash of its
files' bytes and of the definition, the key under which
:mod:`tinyhar.features.table` caches the session's features (a changed file
gets a new key, so a stale cache entry is never used).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tinyhar.datasets.custom import (
    META_FIELDS,
    DatasetDefinition,
    load_definition,
    meta_from_name,
    resolve_files,
)
from tinyhar.datasets.recording import RecordingSet
from tinyhar.errors import DataFormatError

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class SessionSource:
    """Where one session (or one file of sessions) of a data set is.

    Attributes
    ----------
    definition : str
        Path of the dataset definition (YAML).
    files : tuple of str
        The session's files, in the definition's order.
    subject, session : str or None
        As the file names say (None when they come from a column).
    """

    definition: str
    files: tuple[str, ...]
    subject: str | None
    session: str | None

    @property
    def name(self) -> str:
        """A readable name for messages: the subject/session, else the first file."""
        if self.subject is not None and self.session is not None:
            return f"subject {self.subject}, session {self.session}"
        return Path(self.files[0]).name

    def load(self, checks=None, session_prefix: bool = False) -> RecordingSet:
        """Read this session's samples.

        Parameters
        ----------
        checks : DataChecks or mapping, optional
            Plausibility checks, as :func:`tinyhar.datasets.custom.load_custom`.
        session_prefix : bool
            Name sessions ``"<subject>-<session>"``, as the in-memory loader does
            when a session name is used by several subjects
            (:func:`shared_session_names`).

        Returns
        -------
        RecordingSet
            The session(s) in the files, in tinyhar's units (g, rad/s, s).

        Raises
        ------
        ConfigError, DataFormatError
            As :func:`tinyhar.datasets.custom.load_custom`, naming the file.
        """
        path = Path(self.definition)
        definition = DatasetDefinition.from_yaml(path)
        recordings = load_definition(definition, path.parent, str(path), checks,
                                     files=[Path(f) for f in self.files])
        if session_prefix:
            recordings.frame["session"] = prefixed_sessions(recordings.frame)
        return recordings

    def fingerprint(self) -> str:
        """BLAKE2b (32-byte hex) of the definition's text and every file's bytes.

        Raises
        ------
        DataFormatError
            If a file cannot be read.
        """
        digest = hashlib.blake2b(digest_size=32)
        digest.update(Path(self.definition).read_bytes())
        for name in self.files:
            digest.update(b"\x00" + Path(name).name.encode() + b"\x00")
            try:
                with open(name, "rb") as handle:
                    while chunk := handle.read(_HASH_CHUNK):
                        digest.update(chunk)
            except OSError as exc:
                raise DataFormatError(name, f"cannot read it ({exc.strerror or exc})") from exc
        return digest.hexdigest()


def prefixed_sessions(frame: pd.DataFrame) -> pd.Categorical:
    """The ``session`` column of a canonical frame renamed ``"<subject>-<session>"``.

    Parameters
    ----------
    frame : pandas.DataFrame
        A :attr:`RecordingSet.frame` (a session belongs to one subject).

    Returns
    -------
    pandas.Categorical
        The same codes, each category renamed (no string per sample).
    """
    session = frame["session"].array
    codes = session.codes
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else []
    owner = {int(codes[i]): str(frame["subject"].iloc[i]) for i in starts}
    return session.rename_categories(
        [f"{owner[i]}-{name}" for i, name in enumerate(session.categories)]
    )


def session_sources(definition_path: str | Path) -> list[SessionSource]:
    """Plan the out-of-core reading of a dataset definition, one source per session.

    Parameters
    ----------
    definition_path : str or Path
        A dataset definition (YAML, see :mod:`tinyhar.datasets.custom`).

    Returns
    -------
    list of SessionSource
        In file order; files of one ``(subject, session)`` (from names or
        constants) are one source.

    Raises
    ------
    ConfigError
        If the definition is invalid or a pattern matches no file.
    DataFormatError
        If a file name does not match ``file_pattern``.
    """
    path = Path(definition_path)
    definition = DatasetDefinition.from_yaml(path)
    files = resolve_files(definition, path.parent, str(path))
    pattern = re.compile(definition.file_pattern) if definition.file_pattern else None
    from_column = {k for k in META_FIELDS if getattr(definition.columns, k) is not None}
    groups: dict[tuple, list[str]] = {}
    metas: dict[tuple, dict] = {}
    for file in files:
        meta = meta_from_name(file, path.parent, pattern, definition)
        if {"subject", "session"} & from_column or meta.get("subject") is None:
            key: tuple = ("file", str(file))
        else:
            key = (meta["subject"], meta["session"])
        groups.setdefault(key, []).append(str(file))
        metas[key] = meta
    out = []
    for key, names in groups.items():
        by_name = key[0] != "file"
        out.append(SessionSource(
            definition=str(path), files=tuple(names),
            subject=metas[key].get("subject") if by_name else None,
            session=metas[key].get("session") if by_name else None,
        ))
    return out


def shared_session_names(sources: list[SessionSource]) -> bool:
    """Whether a session name is used by several subjects (then ids become ``subject-session``).

    The in-memory loader (:func:`tinyhar.datasets.custom.load_custom`) makes
    the same decision over the whole data set; pass the result as
    ``SessionJob.session_prefix`` so both paths name sessions alike.
    """
    owners: dict[str, set] = {}
    for source in sources:
        if source.session is not None:
            owners.setdefault(source.session, set()).add(source.subject)
    return any(len(s) > 1 for s in owners.values())

"""Access to data sets packed as zip archives or extracted folders (internal).

Publishers distribute data sets as zip archives; users often extract them.
:func:`open_dataset_files` finds the data set's root inside either, from an
*anchor* file whose relative path identifies it (e.g. ``RawData/labels.txt``
for HAPT), so that the loaders read both the same way. Names in error
messages are ``archive.zip:member`` inside a zip and the full path otherwise.

:func:`parse_numeric_table` parses whitespace-separated numeric text with
pandas and, only when that fails, scans the text to name the 1-based line
(and column) at fault.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from tinyhar.errors import DataFormatError

_SKIP_PREFIXES = ("__MACOSX/",)


class DatasetFiles:
    """Files of one data set, relative to its root, in a zip archive or a folder.

    Parameters
    ----------
    path : Path
        The zip archive or folder the user gave.
    root : str
        Root of the data set: a member prefix ending in ``/`` (or ``""``) inside
        a zip, or a folder path.
    archive : zipfile.ZipFile, optional
        The open archive when ``path`` is a zip.
    """

    def __init__(self, path: Path, root: str, archive: zipfile.ZipFile | None = None) -> None:
        self.path = path
        self.root = root
        self.archive = archive
        if archive is not None:
            self._members = {
                n[len(root):]: n
                for n in archive.namelist()
                if n.startswith(root) and not n.endswith("/") and not n.startswith(_SKIP_PREFIXES)
            }

    def close(self) -> None:
        """Close the archive (no-op for folders)."""
        if self.archive is not None:
            self.archive.close()

    def __enter__(self) -> DatasetFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def list(self, folder: str = "") -> list[str]:
        """Relative names of the files directly inside ``folder`` (``""`` = root), sorted."""
        prefix = folder.rstrip("/") + "/" if folder else ""
        if self.archive is not None:
            return sorted(
                n for n in self._members if n.startswith(prefix) and "/" not in n[len(prefix):]
            )
        base = Path(self.root) / folder
        if not base.is_dir():
            return []
        return sorted(prefix + p.name for p in base.iterdir() if p.is_file())

    def exists(self, name: str) -> bool:
        """Whether the relative file ``name`` exists."""
        if self.archive is not None:
            return name in self._members
        return (Path(self.root) / name).is_file()

    def display(self, name: str) -> str:
        """Name of a file for messages: ``archive.zip:member`` or the full path."""
        if self.archive is not None:
            return f"{self.path}:{self.root}{name}"
        return str(Path(self.root) / name)

    def read_bytes(self, name: str) -> bytes:
        """Contents of the relative file ``name``.

        Raises
        ------
        DataFormatError
            If the file is missing or cannot be read (also a corrupt,
            encrypted or unsupported zip member).
        """
        if not self.exists(name):
            raise DataFormatError(
                self.display(name),
                "file is missing; the data set is incomplete: use the publisher's "
                "archive as downloaded, or extract all of it",
            )
        try:
            if self.archive is not None:
                return self.archive.read(self._members[name])
            return (Path(self.root) / name).read_bytes()
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise DataFormatError(
                self.display(name),
                f"corrupt archive member ({type(exc).__name__}: {exc}); download the archive "
                "again or extract it with another tool and pass the folder",
            ) from exc
        except (NotImplementedError, RuntimeError) as exc:  # unsupported method, encrypted
            raise DataFormatError(
                self.display(name),
                f"cannot unpack this member ({exc}); extract the archive with another tool "
                "and pass the folder",
            ) from exc
        except OSError as exc:
            raise DataFormatError(self.display(name), f"cannot read: {exc}") from exc


def open_dataset_files(path: str | Path, anchor: str, what: str) -> DatasetFiles:
    """Find a data set's root in a zip archive or a folder.

    Parameters
    ----------
    path : str or Path
        The publisher's zip archive, the folder extracted from it, the data
        set's root folder, or a folder up to two levels above that root.
        A folder below the root (e.g. ``RawData/`` for HAPT) is also accepted
        when the anchor lies in its parent.
    anchor : str
        A file path, relative to the root, that only the data set has.
    what : str
        Human-readable name of the data set, for messages.

    Returns
    -------
    DatasetFiles

    Raises
    ------
    DataFormatError
        If ``path`` does not exist, is not a zip or folder, or holds no
        ``anchor``.
    """
    path = Path(path).expanduser()
    hint = (
        f"expected the {what} archive as published (or the folder extracted from it) "
        f"containing {anchor!r}"
    )
    if not path.exists():
        raise DataFormatError(path, f"no such file or folder; {hint}")
    if path.is_dir():
        children = _subfolders(path)
        grandchildren = [g for c in children for g in _subfolders(c)]
        candidates = [path, *children, *grandchildren, path.parent]
        for folder in candidates:
            if (folder / anchor).is_file():
                return DatasetFiles(path, str(folder))
        raise DataFormatError(path, f"no {anchor!r} in this folder or below it; {hint}")
    if not zipfile.is_zipfile(path):
        raise DataFormatError(path, f"not a zip archive or a folder; {hint}")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DataFormatError(path, f"corrupt zip archive ({exc}); download it again") from exc
    matches = [
        n for n in archive.namelist()
        if (n == anchor or n.endswith("/" + anchor)) and not n.startswith(_SKIP_PREFIXES)
    ]
    if not matches:
        archive.close()
        raise DataFormatError(path, f"no member {anchor!r} in this archive; {hint}")
    best = min(matches, key=len)
    return DatasetFiles(path, best[: len(best) - len(anchor)], archive)


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def read_activity_labels(files: DatasetFiles, name: str) -> dict[int, str]:
    """Parse an ``activity_labels.txt`` (lines ``id NAME``) with pandas.

    Parameters
    ----------
    files : DatasetFiles
    name : str
        Relative name of the file.

    Returns
    -------
    dict
        Activity id -> name.

    Raises
    ------
    DataFormatError
        Naming the file and the 1-based line of the first line that is not
        ``id NAME`` (an integer and one word), or if the file has no line.
    """
    data = files.read_bytes(name)
    source = files.display(name)
    hint = "expected one 'id NAME' pair (an integer and a name) per line"
    try:
        table = pd.read_csv(
            io.BytesIO(data), sep=r"\s+", header=None, names=["id", "name"], dtype=str,
            skip_blank_lines=True, engine="c",
        )
    except pd.errors.EmptyDataError:
        raise DataFormatError(source, f"file is empty; {hint}") from None
    except (ValueError, pd.errors.ParserError) as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise DataFormatError(
            source, hint, line=int(match.group(1)) if match else None
        ) from exc
    ids = pd.to_numeric(table["id"], errors="coerce")
    whole = ids.notna() & np.isfinite(ids.fillna(0)) & (ids.fillna(0) % 1 == 0)
    bad = (~whole | (ids.abs() > 2**31) | table["name"].isna()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        lines = [i for i, t in enumerate(_decode(data).splitlines(), 1) if t.strip()]
        raise DataFormatError(source, hint, line=lines[row] if row < len(lines) else None)
    return {int(i): str(n) for i, n in zip(ids, table["name"], strict=True)}


def parse_numeric_table(
    data: bytes,
    source: str,
    n_cols: int | None = None,
    integer: bool = False,
    line_numbers: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Parse whitespace-separated numbers, one row per non-blank line.

    Parameters
    ----------
    data : bytes
        File contents.
    source : str
        File name for messages (``archive.zip:member`` inside a zip).
    n_cols : int, optional
        Required number of values per row (any, but the same for all rows,
        when None).
    integer : bool
        Require integer values (the array is still returned as float64).
    line_numbers : bool
        Also return the 1-based line number of each row (for small files whose
        rows are checked further).

    Returns
    -------
    numpy.ndarray of float64, shape (n_rows, n_cols)
        The values; with ``line_numbers`` a tuple ``(values, lines)`` where
        ``lines`` is an int64 array of shape (n_rows,).

    Raises
    ------
    DataFormatError
        Naming the file, the 1-based line and column of the first value that
        is not a finite number (or not an integer), or of the first row with
        the wrong number of values; or if the file has no rows.
    """
    try:
        frame = pd.read_csv(
            io.BytesIO(data), sep=r"\s+", header=None, dtype=np.float64, engine="c"
        )
        values = frame.to_numpy(dtype=np.float64)
    except pd.errors.EmptyDataError:
        raise DataFormatError(source, "file is empty; expected rows of numbers") from None
    except (ValueError, pd.errors.ParserError) as exc:
        _raise_first_bad_line(data, source, n_cols, integer, str(exc))
        raise AssertionError("unreachable") from exc
    bad = (
        (n_cols is not None and values.shape[1] != n_cols)
        or not np.isfinite(values).all()
        or (integer and not np.array_equal(values, np.round(values)))
    )
    if bad:
        _raise_first_bad_line(data, source, n_cols, integer, "")
    if line_numbers:
        lines = [i for i, line in enumerate(_decode(data).splitlines(), 1) if line.strip()]
        return values, np.asarray(lines, dtype=np.int64)
    return values


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _raise_first_bad_line(
    data: bytes, source: str, n_cols: int | None, integer: bool, detail: str
) -> None:
    """Scan ``data`` for the first malformed row and raise a DataFormatError naming it."""
    kind = "integer" if integer else "number"
    for lineno, line in enumerate(_decode(data).splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if n_cols is None:
            n_cols = len(fields)
        if len(fields) != n_cols:
            raise DataFormatError(
                source,
                f"expected {n_cols} whitespace-separated values, found {len(fields)}; "
                "fix or remove this line",
                line=lineno,
            )
        for col, text in enumerate(fields, 1):
            try:
                value = float(text)
            except ValueError:
                value = None
            ok = value is not None and np.isfinite(value) and (not integer or value == round(value))
            if not ok:
                raise DataFormatError(
                    source,
                    f"{text!r} is not a finite {kind}; fix or remove this line",
                    line=lineno,
                    column=col,
                )
    match = re.search(r"line (\d+)", detail)
    raise DataFormatError(
        source,
        f"cannot parse as a table of numbers ({detail or 'unknown reason'})",
        line=int(match.group(1)) if match else None,
    )

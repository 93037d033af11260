"""A model file that cannot run code: JSON metadata plus numeric arrays in one ``.npz``.

A fitted pipeline is stored as a NumPy ``.npz`` archive (a zip of ``.npy``
arrays, NumPy's documented format: NEP 1) holding

- ``meta``: a uint8 array with the UTF-8 bytes of one JSON object, with
  ``format`` (:data:`FORMAT_NAME`), ``format_version`` (:data:`FORMAT_VERSION`),
  ``tinyhar_version`` and the components' plain values (parameters, class
  names, training history);
- numeric arrays (tree nodes, leaves, network weights, filter coefficients),
  each named ``<component>.<name>``.

Reading uses :func:`numpy.load` with ``allow_pickle=False`` after checking the
zip directory, so no byte of the file is ever handed to :mod:`pickle`: a
crafted file can fail to load, never execute code. Object arrays are refused
when writing. Every problem found while reading (missing or truncated file,
another zip, a pickle, a newer format, a missing key, a wrong dtype or shape)
raises :class:`ModelFileError`, naming the file, the entry and what to do.
"""

from __future__ import annotations

import json
import os
import secrets
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.errors import DataFormatError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ModelFileError",
    "StateReader",
    "read_state_file",
    "write_state_file",
]

FORMAT_NAME = "tinyhar-pipeline"
"""Value of the ``format`` key of a tinyhar model file."""

FORMAT_VERSION = 2
"""Version of the model file layout written by this tinyhar; it reads versions 1..this.

2: the window length is stored once, in ``pipeline.window_spec``; the
feature extractor no longer writes ``fitted.n_samples_in`` (a version 1 file
still holds it, and it must agree with the spec)."""

MAX_UNCOMPRESSED_BYTES = 1 << 31
"""Largest total size (bytes) of the arrays a model file may unpack to (2 GiB)."""

RETRAIN_HINT = "retrain with `tinyhar train`"

_META = "meta"
_READ_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,
    RuntimeError,
)
"""What numpy/zipfile raise on a damaged archive (truncated, corrupt, encrypted member)."""


class ModelFileError(DataFormatError):
    """A model file cannot be read: missing, damaged, foreign, newer or inconsistent.

    Parameters
    ----------
    path : str or Path
        The model file.
    message : str
        What is wrong; the hint to retrain is appended unless the message
        already says what to do.
    """

    def __init__(self, path: str | Path, message: str) -> None:
        if "tinyhar train" not in message and "upgrade tinyhar" not in message:
            message = f"{message}; {RETRAIN_HINT}"
        super().__init__(path, message)


def _looks_like_pickle(head: bytes) -> bool:
    """Whether the first bytes are a pickle or a joblib file (plain or zlib-compressed)."""
    if head[:1] == b"\x80":  # pickle protocol 2+
        return True
    if head[:1] == b"x" and len(head) >= 2 and (head[0] * 256 + head[1]) % 31 == 0:
        return True  # zlib stream: joblib's compress=N
    return head[:2] in (b"ZF", b"\x1f\x8b", b"BZ") or head[:6] == b"\xfd7zXZ\x00"


def _plain_json(value: Any) -> Any:
    """numpy scalars and arrays as plain Python values, for ``json.dumps``."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def write_state_file(path: str | Path, meta: Mapping[str, Any], arrays: Mapping[str, Any]) -> Path:
    """Write metadata and arrays to ``path`` atomically (temporary file, then rename).

    Parameters
    ----------
    path : str or Path
        Destination file (by convention ``*.npz``).
    meta : mapping
        JSON-serialisable values; ``format``, ``format_version`` and
        ``tinyhar_version`` are added.
    arrays : mapping of str to numpy.ndarray
        Numeric or bool arrays of any shape; names must not contain ``/``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    TypeError
        An array holds Python objects, or ``meta`` is not JSON-serialisable
        (a programming error: such values cannot be stored safely).
    """
    import tinyhar

    path = Path(path)
    doc = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION,
           "tinyhar_version": tinyhar.__version__, **meta}
    try:
        text = json.dumps(doc, ensure_ascii=False, sort_keys=True, default=_plain_json)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"model metadata is not JSON-serialisable: {exc}") from None
    payload = {_META: np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}
    for name, value in arrays.items():
        arr = np.asarray(value)
        if arr.dtype.hasobject or "/" in name or name == _META:
            raise TypeError(f"model array {name!r} ({arr.dtype}) cannot be stored without pickle")
        payload[name] = arr
    # a fresh name next to the target (same file system, so the rename is atomic);
    # opened with "xb" so the file gets the usual permissions (umask), unlike mkstemp's 0600
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            np.savez_compressed(fh, **payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_state_file(path: str | Path) -> StateReader:
    """Read a file written by :func:`write_state_file`, without pickle.

    Parameters
    ----------
    path : str or Path
        The model file.

    Returns
    -------
    StateReader
        The metadata and arrays, with checked accessors.

    Raises
    ------
    ModelFileError
        Missing, truncated or corrupt file; a pickle; a zip or npz that is not
        a tinyhar model file; a newer format version.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "no such model file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise ModelFileError(path, f"cannot be read ({exc.strerror or exc})") from None
    if head[:4] != b"PK\x03\x04":
        if _looks_like_pickle(head):
            raise ModelFileError(
                path,
                "is a pickle/joblib file (written by tinyhar 0.1 or not by tinyhar); tinyhar "
                "never loads pickles because loading one can run arbitrary code",
            )
        what = "empty" if not head else "not a tinyhar model file (not an .npz archive)"
        raise ModelFileError(path, f"is {what}")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            _check_entries(path, names, infos)
            problem = _check_headers(zf, infos)
    except ModelFileError:
        raise
    except _READ_ERRORS as exc:
        raise ModelFileError(path, f"is a damaged archive (truncated or corrupt: {exc})") from None
    if problem:
        raise ModelFileError(path, problem)
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for name in npz.files:
                arrays[name] = npz[name]
    except _READ_ERRORS as exc:
        raise ModelFileError(path, f"is damaged (truncated or corrupt entry: {exc})") from None
    raw = arrays.pop(_META)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(path, "is not a tinyhar model file (meta is not UTF-8 JSON)")
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(path, f"has unreadable metadata ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise ModelFileError(path, "is an npz archive but not a tinyhar model file")
    version = meta.get("format_version")
    if type(version) is not int or version < 1:
        raise ModelFileError(path, f"has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            path,
            f"was written by a newer tinyhar ({meta.get('tinyhar_version', '?')}, model format "
            f"{version}; this tinyhar reads up to {FORMAT_VERSION}): upgrade tinyhar, or "
            f"{RETRAIN_HINT}",
        )
    return StateReader(path, meta, arrays)


def _check_entries(path: Path, names: list[str], infos: list[zipfile.ZipInfo]) -> None:
    """Raise unless the zip holds ``meta.npy`` and plain ``*.npy`` entries of a sane total size."""
    if f"{_META}.npy" not in names:
        raise ModelFileError(path, "is a zip/npz archive but not a tinyhar model file (no meta)")
    bad = [n for n in names if not n.endswith(".npy") or "/" in n or "\\" in n]
    if bad or len(set(names)) != len(names):
        raise ModelFileError(path, f"has unexpected entries {sorted(set(bad or names))[:5]}")
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ModelFileError(
            path, f"would unpack to {total} bytes, more than the {MAX_UNCOMPRESSED_BYTES} "
            "bytes a tinyhar model can take"
        )


def _check_headers(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> str | None:
    """What is wrong with the ``.npy`` headers (object dtype, more data declared than held)."""
    for info in infos:
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                return f"entry {info.filename!r} has an unsupported .npy version {version}"
        if dtype.hasobject:
            return f"entry {info.filename!r} holds Python objects (a pickle), which tinyhar refuses"
        if int(np.prod(shape, dtype=np.float64)) * dtype.itemsize > info.file_size:
            return f"entry {info.filename!r} declares more data than it holds (truncated?)"
    return None


_KINDS: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "str": (str,),
    "dict": (dict,),
    "list": (list,),
}


class StateReader:
    """Checked access to one section of a model file's metadata and arrays.

    Parameters
    ----------
    path : Path
        The model file (for messages).
    meta : dict
        This section's JSON values.
    arrays : dict of str to numpy.ndarray
        All arrays of the file, by full name.
    prefix : str
        Dotted name of the section (``""`` for the top level); its arrays are
        named ``<prefix>.<name>``.
    """

    def __init__(
        self,
        path: Path,
        meta: dict,
        arrays: dict[str, np.ndarray],
        prefix: str = "",
        _used: set[str] | None = None,
    ) -> None:
        self.path = path
        self.meta = meta
        self._arrays = arrays
        self.prefix = prefix
        self._used = set() if _used is None else _used

    def _key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, message: str) -> ModelFileError:
        """A :class:`ModelFileError` for this file (to raise)."""
        return ModelFileError(self.path, message)

    def section(self, key: str) -> StateReader:
        """The sub-section ``key`` (a JSON object; its arrays are ``<prefix>.<key>.*``)."""
        return StateReader(
            self.path, self.value(key, "dict"), self._arrays, self._key(key), self._used
        )

    def has(self, key: str) -> bool:
        """Whether the metadata has a non-null ``key``."""
        return self.meta.get(key) is not None

    def value(self, key: str, kind: str, optional: bool = False) -> Any:
        """The metadata value ``key``, checked against ``kind``.

        Parameters
        ----------
        key : str
        kind : {"int", "float", "bool", "str", "dict", "list"}
            ``"float"`` accepts integers (returned as float); ``"int"``
            rejects booleans.
        optional : bool
            Whether a missing key or null is allowed (returned as None).

        Raises
        ------
        ModelFileError
            Missing key or wrong type.
        """
        if key not in self.meta or self.meta[key] is None:
            if optional:
                return None
            raise self.error(f"misses the entry {self._key(key)!r}")
        value = self.meta[key]
        types = _KINDS[kind]
        if not isinstance(value, types) or (kind != "bool" and isinstance(value, bool)):
            raise self.error(
                f"entry {self._key(key)!r} should be a {kind}, got {type(value).__name__}"
            )
        if kind == "float":
            value = float(value)
            if not np.isfinite(value):
                raise self.error(f"entry {self._key(key)!r} is not finite ({value})")
        return value

    def strings(self, key: str) -> list[str]:
        """The metadata value ``key`` as a list of str."""
        value = self.value(key, "list")
        if not all(isinstance(v, str) for v in value):
            raise self.error(f"entry {self._key(key)!r} should be a list of strings")
        return list(value)

    def params(self, estimator: type, key: str = "params") -> dict:
        """Constructor parameters of a scikit-learn style ``estimator`` class, stored as ``key``.

        Raises
        ------
        ModelFileError
            Missing entry, not an object, or a name the class does not take.
        """
        params = dict(self.value(key, "dict"))
        unknown = sorted(set(params) - set(estimator().get_params()))
        if unknown:
            raise self.error(f"unknown {estimator.__name__} parameters {unknown}")
        return params

    def array(
        self, key: str, dtype: Any | Iterable[Any], shape: tuple[int | None, ...]
    ) -> np.ndarray:
        """The array ``<prefix>.<key>``, checked for dtype and shape.

        Parameters
        ----------
        key : str
        dtype : numpy dtype or iterable of dtypes
            Accepted dtype(s) (byte order aside); the array is returned in
            native byte order.
        shape : tuple of int or None
            Expected shape; None matches any length along that axis.

        Raises
        ------
        ModelFileError
            Missing array, wrong dtype, number of dimensions or shape.
        """
        name = self._key(key)
        if name not in self._arrays:
            raise self.error(f"misses the array {name!r}")
        arr = self._arrays[name]
        allowed = [np.dtype(d) for d in (dtype if isinstance(dtype, (list, tuple)) else [dtype])]
        match = [d for d in allowed if (arr.dtype.kind, arr.dtype.itemsize) == (d.kind, d.itemsize)]
        if not match:
            raise self.error(
                f"array {name!r} has dtype {arr.dtype}, expected {' or '.join(map(str, allowed))}"
            )
        if arr.ndim != len(shape) or any(
            s is not None and s != n for s, n in zip(shape, arr.shape, strict=True)
        ):
            want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
            raise self.error(f"array {name!r} has shape {arr.shape}, expected {want}")
        self._used.add(name)
        return np.ascontiguousarray(arr, dtype=match[0].newbyteorder("="))

    def array_names(self, key: str) -> list[str]:
        """Names ``<name>`` of the arrays ``<prefix>.<key>.<name>``, sorted."""
        start = self._key(key) + "."
        return sorted(n[len(start):] for n in self._arrays if n.startswith(start))

    def check_all_arrays_read(self) -> None:
        """Raise if the file holds arrays that no reader asked for (not written by tinyhar).

        Raises
        ------
        ModelFileError
            Naming up to five unexpected arrays.
        """
        unknown = sorted(set(self._arrays) - self._used)
        if unknown:
            raise self.error(f"has unexpected arrays {unknown[:5]}")

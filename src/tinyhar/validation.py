"""One validation path for what users hand to tinyhar: windows, feature matrices, settings.

Three checks, each written once and used everywhere:

- :func:`check_windows`: a stack of sensor windows ``(n_windows, n_samples,
  n_channels)``, built on scikit-learn's :func:`~sklearn.utils.check_array`
  (``allow_nd``, float32, C order, no sparse or complex data) with tinyhar's
  messages (the expected shape with the channel order, a hint when the axes
  look swapped). Used by :class:`~tinyhar.windows.WindowSet`,
  :class:`~tinyhar.features.FeatureExtractor`,
  :class:`~tinyhar.models.pipeline.HarPipeline`,
  :class:`~tinyhar.models.nn.NeuralNetClassifier`,
  :func:`tinyhar.features.validity.invalid_windows`, the perturbations of
  :mod:`tinyhar.evaluation.perturb`, the WISDM windows file
  (:func:`~tinyhar.datasets.wisdm.load_wisdm_windows`) and the profile windows of
  :func:`tinyhar.device.budget.c_budget`. Values are not checked
  here: the input contract (NaN, infinity, ``|x| > MAX_ABS_INPUT``) is
  :mod:`tinyhar.features.validity`'s, whose messages name the window, sample
  and channel.
- :func:`check_features`: a feature matrix ``(n_windows, n_features)`` for an
  estimator, through scikit-learn's :func:`~sklearn.utils.validation.validate_data`
  (so ``n_features_in_`` and ``feature_names_in_`` follow scikit-learn's rules).
- :func:`format_validation_error` / :func:`validation_problems`: a pydantic
  error in user words, one line per wrong key (``columns: expected a mapping
  such as {acc_x: ..., acc_y: ..., acc_z: ...}`` instead of ``Input should be a
  valid dictionary or instance of Columns``). Used for training configurations
  (:mod:`tinyhar.config`), dataset definitions (:mod:`tinyhar.datasets.custom`,
  :mod:`tinyhar.datasets.scaffold`) and network parameters.

This module sits in the bottom layer: it imports only numpy, pydantic and
:mod:`tinyhar.errors` at module level (scikit-learn when a check runs).
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Sequence
from typing import Annotated, Any, NamedTuple

import numpy as np
from pydantic import BaseModel, BeforeValidator, ValidationError

from tinyhar.errors import DataFormatError

__all__ = [
    "MISSING",
    "WINDOWS_SHAPE",
    "DataTypeError",
    "Problem",
    "check_features",
    "check_windows",
    "format_validation_error",
    "validation_problems",
]

WINDOWS_SHAPE = "(n_windows, n_samples, n_channels)"
"""The axes of a window array, as every message and docstring names them."""


# --------------------------------------------------------------------------- arrays


class DataTypeError(DataFormatError, TypeError):
    """Data of a type tinyhar cannot use (sparse, text, nested objects).

    A :class:`~tinyhar.errors.DataFormatError` (so the CLI prints it as a
    user error) that is also a :class:`TypeError`, the exception
    scikit-learn raises for such input.
    """


def _error_for(exc: Exception, error: Callable[[str, str], Exception]) -> Callable:
    """The error to raise for a conversion failure: keep TypeError for tinyhar's default."""
    return DataTypeError if isinstance(exc, TypeError) and error is DataFormatError else error


def _expected(channels: Sequence[str] | None, n_channels: int | None,
              n_samples: int | None) -> str:
    n_ch = len(channels) if channels is not None else n_channels
    shape = f"(n_windows, {n_samples or 'n_samples'}, {n_ch or 'n_channels'})"
    if channels is not None:
        shape += f" with the channels in the order {list(channels)}"
    return shape


def check_windows(
    X: object,
    *,
    source: str = "windows",
    channels: Sequence[str] | None = None,
    n_channels: int | None = None,
    n_samples: int | None = None,
    min_windows: int = 0,
    trained_on: str = "the model was trained on",
    error: Callable[[str, str], Exception] = DataFormatError,
) -> np.ndarray:
    """Return windows as a C-contiguous float32 array, or raise naming the expected shape.

    Parameters
    ----------
    X : array-like, shape (n_windows, n_samples, n_channels)
        Sensor windows (g, rad/s); lists, float64 and read-only or
        Fortran-ordered arrays are converted (values beyond the float32 range
        become infinite, as the C and MicroPython exports would read them).
    source : str
        Name of the data (file, data set, argument) that starts the message.
    channels : sequence of str, optional
        Channel names expected along the last axis, in order; named in every
        message.
    n_channels : int, optional
        Expected number of channels when ``channels`` is not given.
    n_samples : int, optional
        Expected samples per window (e.g. the length seen in ``fit``).
    min_windows : int
        Fewest windows accepted (``fit`` needs at least one; ``predict``
        accepts none and returns an empty result).
    trained_on : str
        How the message refers to the origin of ``n_samples``, e.g. ``"the
        extractor was fitted on"``.
    error : callable(source, message) -> Exception
        Exception to raise; :class:`~tinyhar.errors.DataFormatError` (a
        :class:`ValueError` and :class:`~tinyhar.errors.TinyharError`) by default.

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_samples, n_channels)
        ``X`` itself when it already is such an array.

    Raises
    ------
    DataFormatError
        (or ``error``; :class:`DataTypeError` for sparse or object data that
        cannot be converted) for sparse, complex, text or ragged input, an array
        that is not 3-D, an empty window or channel axis, a channel count or
        window length other than the expected one (with a hint when the axes
        look swapped), or fewer than ``min_windows`` windows.
    """
    expected = _expected(channels, n_channels, n_samples)
    if (type(X) is np.ndarray and X.dtype == np.float32 and X.ndim == 3
            and X.flags.c_contiguous and X.flags.writeable):
        arr = X  # what check_array returns for it; scikit-learn not needed (worker processes)
    elif type(X) is np.ndarray and X.ndim == 3 and X.dtype.kind in "biuf":
        with np.errstate(over="ignore", invalid="ignore"):  # what check_array returns: a
            arr = np.array(X, dtype=np.float32, order="C")  # C-ordered float32 copy (views
            # of a stream, read-only or Fortran-ordered arrays, float64, integers)
    else:
        from sklearn.utils import check_array

        try:
            with np.errstate(over="ignore", invalid="ignore"):  # 1e39 -> inf, as on a device
                arr = check_array(
                    X, accept_sparse=False, dtype=np.float32, order="C", ensure_2d=False,
                    allow_nd=True, ensure_all_finite=False, ensure_min_samples=0,
                    ensure_min_features=1, input_name="X",
                )
        except (TypeError, ValueError) as exc:
            raise _error_for(exc, error)(
                source, f"windows must be a numeric array of shape {expected}; could not use "
                f"the {type(X).__name__} given: {exc}"
            ) from None
    if arr.ndim != 3:
        raise error(
            source, f"windows must have shape {expected}, got an array of shape "
            f"{tuple(arr.shape)} ({arr.ndim}-D); a single window of shape (n_samples, "
            "n_channels) is X[None]"
        )
    n_ch = len(channels) if channels is not None else n_channels
    if n_ch is not None and arr.shape[2] != n_ch:
        hint = ""
        if arr.shape[1] == n_ch:
            hint = ("; the axes look swapped: (n_windows, n_channels, n_samples) -> use "
                    "X.transpose(0, 2, 1)")
        raise error(
            source, f"windows must have shape {expected}, got shape {tuple(arr.shape)} with "
            f"{arr.shape[2]} channels on the last axis{hint}"
        )
    if n_samples is not None and arr.shape[1] != n_samples:
        raise error(
            source, f"windows must have shape {expected}, got shape {tuple(arr.shape)}: "
            f"{arr.shape[1]} samples per window, but {trained_on} windows of {n_samples} "
            "samples; cut the data with the same window length"
        )
    if arr.shape[0] < min_windows:
        raise error(
            source, f"no windows (shape {tuple(arr.shape)}); at least {min_windows} "
            f"window{'s' if min_windows > 1 else ''} of shape {expected} needed"
        )
    if arr.shape[0] and (arr.shape[1] == 0 or arr.shape[2] == 0):
        raise error(source, f"windows are empty: shape {tuple(arr.shape)}, expected {expected}")
    return arr


def check_features(
    estimator: Any,
    X: object,
    y: object = "no_validation",
    *,
    reset: bool,
    source: str = "features",
) -> Any:
    """Validate a feature matrix (and labels) for ``estimator`` with scikit-learn's rules.

    A thin layer over :func:`sklearn.utils.validation.validate_data` (float32,
    finite values, no sparse or complex data, ``n_features_in_`` and
    ``feature_names_in_`` set when ``reset`` and compared otherwise) that
    raises tinyhar's error type, keeping scikit-learn's message.

    Parameters
    ----------
    estimator : BaseEstimator
        The estimator being fitted or applied.
    X : array-like, shape (n_windows, n_features)
        Features, one row per window.
    y : array-like, shape (n_windows,), optional
        Labels (``fit`` only); None raises the "requires y" error.
    reset : bool
        True in ``fit`` (record the number and names of the features),
        False when predicting (check them).
    source : str
        Name of the data for the message.

    Returns
    -------
    numpy.ndarray of float32, shape (n_windows, n_features), or (X, y)
        ``(X, y)`` when ``y`` is given.

    Raises
    ------
    DataFormatError
        (:class:`DataTypeError` for sparse, text or object data) Not a 2-D
        numeric matrix, NaN or infinite values, no rows or no
        columns, another number of features than seen in ``fit``, or labels
        of another length.
    """
    from sklearn.utils.validation import validate_data

    try:
        return validate_data(estimator, X, y, reset=reset, dtype=np.float32,
                             accept_sparse=False, ensure_all_finite=True)
    except (TypeError, ValueError) as exc:
        raise _error_for(exc, DataFormatError)(
            source, f"{exc}{_first_non_finite(X)}; expected a numeric matrix (n_windows, "
            "n_features) of finite values"
        ) from None


def _first_non_finite(X: object) -> str:
    """`` (window i, feature column j is nan)`` for a numeric matrix with such a value, else ''."""
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError):
        return ""
    if arr.ndim != 2 or arr.dtype.kind not in "fiub":
        return ""
    bad = np.argwhere(~np.isfinite(arr))
    if not len(bad):
        return ""
    r, c = (int(v) for v in bad[0])
    return f" (window {r}, feature column {c} is {float(arr[r, c])!r})"


# --------------------------------------------------------------------------- settings


class Problem(NamedTuple):
    """One wrong key of a validated mapping."""

    key: str
    """Key path in the user's file, e.g. ``features.bands_hz[1][0]``."""
    message: str
    """What is wrong and what is allowed, in user words."""
    value: Any
    """The value given (:data:`MISSING` when the key is absent)."""


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()
"""The value of a :class:`Problem` about a key that is absent."""

_TYPE_WORDS = {
    "string_type": "a text",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "none_required": "null",
}
"""User words for pydantic's wrong-type errors."""

_MAPPING_ERRORS = {"model_type", "model_attributes_type", "dict_type"}
_BASIC_TAGS = {"str", "int", "float", "bool", "none", "dict", "list", "tuple"}


def _models_in(annotation: Any, seen: dict[str, type[BaseModel]]) -> None:
    """Collect the pydantic models reachable from an annotation, by class name."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation.__name__ not in seen:
            seen[annotation.__name__] = annotation
            for field in annotation.model_fields.values():
                _models_in(field.annotation, seen)
        return
    for arg in typing.get_args(annotation):
        _models_in(arg, seen)


def _is_branch_tag(part: Any, models: dict[str, type[BaseModel]]) -> bool:
    """Whether a location part names a union member (``str``, ``list[str]``, ``RawCounts``)."""
    if not isinstance(part, str):
        return False
    return (part in _BASIC_TAGS or part in models
            or re.fullmatch(r"[\w-]+\[.*\]", part) is not None  # list[str], literal[...]
            or part.startswith(("function-", "constrained-", "lax-", "json-or-python")))


def _key_path(parts: Sequence[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _model_at(root: type[BaseModel] | None, parts: Sequence[Any]) -> type[BaseModel] | None:
    """The pydantic model that holds the keys at location ``parts`` (None if not a model)."""
    current: Any = root
    for part in parts:
        if isinstance(part, int):  # a list index: the item model was resolved with the list
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = field.annotation
        inner: dict[str, type[BaseModel]] = {}
        _models_in(current, inner)
        direct = [m for m in inner.values()
                  if m is current or m in typing.get_args(current)]
        current = direct[0] if direct else current
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _mapping_words(model: type[BaseModel] | None) -> str:
    """``a mapping such as {acc_x: ..., acc_y: ...}`` from a model's (required) keys."""
    if model is None:
        return "a mapping of keys"
    fields = model.model_fields
    keys = [k for k, f in fields.items() if f.is_required()] or list(fields)[:3]
    more = ", ..." if len(keys) < len(fields) else ""
    return "a mapping such as {" + ", ".join(f"{k}: ..." for k in keys[:4]) + more + "}"


def _describe(err: dict, parts: tuple, root: type[BaseModel] | None) -> str:
    """One pydantic error in user words (without the key)."""
    kind = err["type"]
    if kind == "extra_forbidden":
        owner = _model_at(root, parts[:-1])
        allowed = f"; allowed keys: {', '.join(owner.model_fields)}" if owner else ""
        return f"unknown key{allowed}"
    if kind == "missing":
        return "required key is missing"
    if kind in _MAPPING_ERRORS:
        class_name = (err.get("ctx") or {}).get("class_name")
        model = _model_at(root, parts)
        if model is None and class_name and root is not None:
            found: dict[str, type[BaseModel]] = {}
            _models_in(root, found)
            model = found.get(class_name)
        return f"expected {_mapping_words(model)}"
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}"
    if kind in ("literal_error", "enum"):
        expected = str((err.get("ctx") or {}).get("expected", ""))
        return f"must be one of: {expected.replace(chr(39), '')}" if expected else err["msg"]
    return str(err["msg"]).removeprefix("Value error, ")


def validation_problems(
    exc: ValidationError, model: type[BaseModel] | None = None
) -> list[Problem]:
    """The wrong keys of a pydantic error, one :class:`Problem` per key, in user words.

    The branches of a union type (``files: str | list[str]``,
    ``units.acc: str | RawCounts``) are folded into one problem for the key:
    when the value reached inside one branch (a list whose item is wrong, a
    mapping with a wrong key), that branch's problem is reported at the
    item's path (``files[1]: expected a text``); when a branch rejected the
    value for a reason other than its type, that reason; otherwise the list
    of accepted types (``expected a text or a mapping such as {...}``).

    Parameters
    ----------
    exc : pydantic.ValidationError
        From ``model.model_validate(...)``.
    model : type of pydantic.BaseModel, optional
        The validated model, to name allowed keys and example mappings and to
        recognise union branches named after sub-models.

    Returns
    -------
    list of Problem
        ``(key, message, value)`` in the order of the errors; keys are paths
        such as ``features.bands_hz[1][0]``.
    """
    models: dict[str, type[BaseModel]] = {}
    if model is not None:
        _models_in(model, models)
    by_key: dict[tuple, list[tuple[tuple, tuple, dict]]] = {}
    for err in exc.errors():
        loc = tuple(err["loc"])
        tag_at = next((i for i, p in enumerate(loc) if _is_branch_tag(p, models)), None)
        field = loc if tag_at is None else loc[:tag_at]
        by_key.setdefault(field, []).append((loc, tag_at, err))
    out: list[Problem] = []
    for field, errs in by_key.items():
        branches = [e for e in errs if e[1] is not None]
        chosen = [e for e in errs if e[1] is None]
        if branches:
            deeper = [e for e in branches if len(e[0]) > e[1] + 1]
            specific = [e for e in branches
                        if e[2]["type"] not in _TYPE_WORDS and e[2]["type"] not in _MAPPING_ERRORS]
            chosen += deeper or specific
            if not (deeper or specific):
                words = []
                for loc, tag_at, err in branches:
                    what = _describe(err, loc[: tag_at + 1], model).removeprefix("expected ")
                    if err["type"] in _MAPPING_ERRORS and loc[tag_at] in models:
                        what = _mapping_words(models[loc[tag_at]])
                    elif loc[tag_at] == "list[str]":
                        what = "a list of texts"
                    words.append(what)
                value = branches[0][2].get("input", MISSING)
                out.append(Problem(_key_path(field),
                                   "expected " + " or ".join(dict.fromkeys(words)), value))
        for loc, _tag_at, err in chosen:
            parts = tuple(p for p in loc if not _is_branch_tag(p, models))
            value = MISSING if err["type"] == "missing" else err.get("input", MISSING)
            out.append(Problem(_key_path(parts), _describe(err, parts, model), value))
    unique: dict[tuple[str, str], Problem] = {}
    for p in out:
        unique.setdefault((p.key, p.message), p)
    return list(unique.values())


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_validation_error(
    exc: ValidationError,
    source: str,
    model: type[BaseModel] | None = None,
    header: str | None = None,
) -> str:
    """A pydantic error as lines ``source: key.path: problem (got value)``.

    Parameters
    ----------
    exc : pydantic.ValidationError
        From ``model.model_validate(...)``.
    source : str
        The file or option the mapping came from (starts every line).
    model : type of pydantic.BaseModel, optional
        The validated model (see :func:`validation_problems`).
    header : str, optional
        If given, one first line ``source: header:`` and the problems
        indented below it (for a file with several problems).

    Returns
    -------
    str
        E.g. ``"data.yaml: columns: expected a mapping such as {acc_x: ...,
        acc_y: ..., acc_z: ..., ...} (got ['ax', 'ay'])"``.
    """
    lines = [
        f"{p.key}: {p.message}" + ("" if p.value is MISSING else f" (got {_short(p.value)})")
        for p in validation_problems(exc, model)
    ]
    if header is not None:
        return f"{source}: {header}:\n  " + "\n  ".join(lines)
    return "\n".join(f"{source}: {line}" for line in lines)


def not_bool(value: Any) -> Any:
    """Refuse YAML ``true``/``false`` where a number is expected (pydantic would read 1/0)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got the boolean {str(value).lower()}")
    return value


Int = Annotated[int, BeforeValidator(not_bool)]
"""An integer key: YAML ``true``/``false`` are refused rather than read as 1/0."""
Float = Annotated[float, BeforeValidator(not_bool)]
"""A number key: YAML ``true``/``false`` are refused rather than read as 1/0."""

"""Errors raised by tinyhar for user mistakes.

Every error meant for a user derives from :class:`TinyharError`; the CLI
prints its message (no traceback) and exits with status 2. Messages name the
file, line or column at fault and say what to do.
"""

from __future__ import annotations

from pathlib import Path


class TinyharError(Exception):
    """Base class of the errors tinyhar raises for bad input or configuration."""


class DataFormatError(TinyharError, ValueError):
    """A data file does not have the expected layout.

    Parameters
    ----------
    path : str or Path
        The file at fault (inside a zip: ``archive.zip:member``).
    message : str
        What is wrong and what to do about it.
    line : int, optional
        1-based line number in the file, when known.
    column : str, optional
        Column name or 1-based column number, when known.
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        line: int | None = None,
        column: str | int | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.column = column
        where = self.path
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {message}")


class ConfigError(TinyharError, ValueError):
    """A configuration (YAML file or options) is invalid; the message names the key."""


class EvaluationError(TinyharError, ValueError):
    """The data cannot support the requested evaluation (e.g. one class, one subject)."""

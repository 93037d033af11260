"""Progress bars of long steps (feature extraction, cross-validation, whole streams)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


def progress_bar(console: Console) -> Progress:
    """A transient progress bar, shown only on a terminal.

    Rich still writes a blank line per bar to a file or pipe even when
    ``transient``; logs and CI output get no progress display at all.
    """
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )

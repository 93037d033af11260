"""Wording shared by console output, ``summary.md`` and figure titles.

One place for counts with the right plural ("1 subject", "3 subjects"), for
naming a set of subjects compactly ("1-5, 9, 12" instead of thirty ids) and for
class names short enough to label a figure's axis.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tinyhar.datasets.recording import natural_key

_IRREGULAR = {"class": "classes", "MAC": "MACs"}


def plural(n: int, word: str, many: str | None = None) -> str:
    """A count followed by the singular or plural of a noun.

    Parameters
    ----------
    n : int
        The count.
    word : str
        Singular noun (``"subject"``).
    many : str, optional
        Plural when it is not ``word + "s"`` (``"classes"`` is known).

    Returns
    -------
    str
        ``"1 subject"``, ``"0 subjects"``, ``"2 classes"``; thousands get a
        comma (``"10,666 windows"``).

    Examples
    --------
    >>> plural(1, "fold"), plural(3, "fold"), plural(2, "class")
    ('1 fold', '3 folds', '2 classes')
    """
    n = int(n)
    noun = word if n == 1 else (many or _IRREGULAR.get(word, word + "s"))
    return f"{n:,} {noun}"


def _runs(ids: list[str]) -> list[str]:
    """Collapse runs of 3 or more consecutive integer ids into ``a-b``."""
    out: list[str] = []
    i = 0
    while i < len(ids):
        j = i
        if ids[i].isdigit():
            while (
                j + 1 < len(ids)
                and ids[j + 1].isdigit()
                and int(ids[j + 1]) == int(ids[j]) + 1
            ):
                j += 1
        if j - i >= 2:
            out.append(f"{ids[i]}-{ids[j]}")
        else:
            out.extend(ids[i : j + 1])
        i = j + 1
    return out


def name_subjects(subjects: Iterable[object], max_chars: int = 60) -> str:
    """Name a set of subjects compactly, for titles and messages.

    Ids are sorted naturally ("2" before "10"); runs of three or more
    consecutive integer ids become ranges (``1-5``). When the text would be
    longer than ``max_chars``, it is cut and the total count is appended.

    Parameters
    ----------
    subjects : iterable
        Subject ids (converted to str; duplicates ignored).
    max_chars : int
        Longest text before cutting.

    Returns
    -------
    str
        E.g. ``"2, 4, 9-13"``, ``"1-30"``, ``"p01, p02, ... (40 subjects)"``;
        ``"none"`` for an empty set.

    Examples
    --------
    >>> name_subjects(["10", "2", "3", "4", "7"])
    '2-4, 7, 10'
    """
    ids = sorted({str(s) for s in subjects}, key=natural_key)
    if not ids:
        return "none"
    parts = _runs(ids)
    text = ", ".join(parts)
    if len(text) <= max_chars:
        return text
    tail = f", ... ({plural(len(ids), 'subject')})"
    kept: list[str] = []
    for p in parts:
        if len(", ".join([*kept, p])) + len(tail) > max_chars and kept:
            break
        kept.append(p)
    return ", ".join(kept) + tail


def subject_list(subjects: Iterable[object], max_chars: int = 60) -> str:
    """``"subject 4"`` or ``"subjects 1-3, 7"``: :func:`name_subjects` with its noun.

    Parameters
    ----------
    subjects : iterable
        Subject ids.
    max_chars : int
        Passed to :func:`name_subjects`.
    """
    ids = {str(s) for s in subjects}
    return f"{'subject' if len(ids) == 1 else 'subjects'} {name_subjects(ids, max_chars)}"


def absent_classes_message(metrics: dict) -> str | None:
    """The warning for classes the model knows but the test windows lack.

    Parameters
    ----------
    metrics : dict
        As returned by
        :func:`tinyhar.evaluation.metrics.classification_metrics`.

    Returns
    -------
    str or None
        A sentence naming the absent classes and the convention used, or
        None when every class is present.
    """
    absent = metrics.get("absent_classes") or []
    if not absent:
        return None
    names = ", ".join(absent)
    return (
        f"{plural(len(absent), 'class')} of the model ({names}) "
        f"{'has' if len(absent) == 1 else 'have'} no test window: macro-F1 is over the "
        f"{plural(len(metrics['scored_classes']), 'class')} present in the test labels or "
        "predicted, and is not comparable with a score over all classes; test on subjects "
        "who performed every activity"
    )


def axis_label(name: object, width: int = 20, lines: int = 2) -> str:
    """A class name as an axis or legend label: wrapped at spaces (or ``;``) to at most
    ``lines`` lines of at most ``width`` characters, ``...`` where it is cut.

    Free-living annotations can be long (``"17150 walking household without
    observable loads;MET 2.0"``); unwrapped they squeeze a confusion matrix or
    a heat map to nothing. Names that fit are returned as they are.

    Parameters
    ----------
    name : object
        The class name (``str(name)`` is used).
    width, lines : int
        Characters per line and lines at most (both >= 1).

    Returns
    -------
    str
        Lines joined by ``"\n"``.
    """
    text = str(name)
    if len(text) <= width:
        return text
    out = [""]
    for token in re.split(r"(?<=[;\s])", text):  # break after a space or a ";"
        while token:
            if out[-1] and len(out[-1]) + len(token.rstrip()) > width:
                out.append("")
            room = width - len(out[-1])
            out[-1] += token[:room]
            token = token[room:].lstrip() if len(token) > room else ""
    out = [line.rstrip() for line in out if line.strip()]
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 3].rstrip() + "..."
    return "\n".join(out)

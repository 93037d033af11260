"""Escaping of user strings for every context of the generated code, and its templates.

Class labels, channel names and data-set names come from the user's data and
end up in generated C, MicroPython and Markdown. Each context has its own
function here; every template renders user strings only through them:

========================  =====================================================
:func:`c_string`          the body of a C string literal (``"..."``)
:func:`c_comment`         text inside a C block comment (``/* ... */``)
:func:`c_identifiers`     C macro names made from labels, with a collision check
:func:`py_string`         a MicroPython string literal
:func:`py_literal`        a MicroPython literal of numbers, strings and tuples
:func:`md_code`           a Markdown code span (``README.md``)
:func:`text_line`         one line of a text file (``features.txt``)
:func:`from_wire_name`    a class name as the live app prints it (``PRED``/``POST``)
========================  =====================================================

:func:`template_environment` is the Jinja2 environment of the exporters. Its
``finalize`` hook refuses to print a plain ``str``: a template can only print
integers and text marked safe (:class:`Safe`) -- the return values of the
functions above, registered as filters of the same names, and code the
exporter made from numbers (:func:`code`). A label that reaches a template
unescaped is therefore an error at export time, not code in the output.

References: ISO/IEC 9899:1999 (C99) 5.1.1.2 (translation phases: trigraphs
and line splices come before comments), 5.2.1.1 (trigraphs), 5.2.4.1
(63 significant characters of a macro name), 6.4.4.4 (escape sequences);
the Python language reference, "String and Bytes literals"; CommonMark 0.31
section 6.1 (code spans).
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.errors import TinyharError

__all__ = [
    "C_SIGNIFICANT_CHARS",
    "Safe",
    "c_comment",
    "c_identifiers",
    "c_string",
    "from_wire_name",
    "code",
    "md_code",
    "py_literal",
    "py_string",
    "render",
    "template_environment",
    "text_line",
]

C_SIGNIFICANT_CHARS = 63
"""Significant initial characters of a C99 macro name (C99 5.2.4.1): two macro
names that agree on these may be the same name to a conforming compiler."""

_C_SIMPLE = {"\\": "\\\\", '"': '\\"', "?": "\\?", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
_PY_SIMPLE = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


class Safe(str):
    """Text already escaped for the context a template prints it in."""


def code(text: str) -> Safe:
    """Mark text the exporter generated from numbers and fixed names as safe to print.

    Parameters
    ----------
    text : str
        Code made by tinyhar (e.g. ``"out + 12"``, a float literal); never a
        user string.

    Returns
    -------
    Safe
    """
    return Safe(text)


def c_string(text: str) -> Safe:
    """A C string literal (with its quotes) that holds exactly ``text`` as UTF-8.

    Printable ASCII is kept except ``\\``, ``"`` and ``?`` (escaped: ``\\?``
    keeps ``??/`` and the other trigraphs from being replaced); every other
    byte of the UTF-8 encoding is a three-digit octal escape (``\\303\\251``
    for ``é``). Octal escapes end after three digits, so a following digit or
    letter never runs on into the escape as it would after ``\\x``.

    Parameters
    ----------
    text : str

    Returns
    -------
    Safe
        E.g. ``"\\"a\\\\b\\""`` for ``a\\b``.
    """
    out = []
    for byte in str(text).encode("utf-8"):
        ch = chr(byte)
        if ch in _C_SIMPLE:
            out.append(_C_SIMPLE[ch])
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return Safe('"' + "".join(out) + '"')


def _visible(text: str) -> str:
    """Printable ASCII as is, everything else (and ``\\``) as ``\\xNN``/``\\uNNNN``."""
    out = []
    for ch in str(text):
        cp = ord(ch)
        if 32 <= cp < 127 and ch != "\\":
            out.append(ch)
        elif cp < 0x100:
            out.append(f"\\x{cp:02x}")
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    return "".join(out)


def c_comment(text: str) -> Safe:
    """Text for the inside of a C block comment, on one line.

    Newlines and other non-printable or non-ASCII characters and ``\\`` are
    written as ``\\xNN`` / ``\\uNNNN`` (so no line ends inside the text and no
    backslash can splice the next line into the comment); ``*/`` and ``/*``
    become ``*\\x2f`` and ``/\\x2a``; ``??`` becomes ``?\\x3f`` (no trigraph).

    Parameters
    ----------
    text : str

    Returns
    -------
    Safe
        Readable text that cannot end the comment or start a new one.
    """
    out = _visible(text)
    out = out.replace("*/", "*\\x2f").replace("/*", "/\\x2a")
    while "??" in out:
        out = out.replace("??", "?\\x3f")
    return Safe(out)


def _sanitise(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", "_", str(text)).strip("_").upper()


def c_identifiers(prefix: str, names: Sequence[str], what: str = "name") -> list[Safe]:
    """C macro names ``prefix + NAME`` for names, refusing two names that give the same one.

    ``NAME`` is the name in upper case with every run of characters other
    than ASCII letters and digits replaced by ``_`` (leading and trailing
    ``_`` removed; a leading digit gets a ``_``); a name without any ASCII
    letter or digit gets its index. Since ``prefix`` is a C identifier, the
    result is one too and never a keyword.

    Parameters
    ----------
    prefix : str
        E.g. ``"TINYHAR_CLASS_"`` (must itself be a C identifier).
    names : sequence of str
        User names (class labels, channel names), in index order.
    what : str
        What the names are, for the error message (``"class label"``).

    Returns
    -------
    list of Safe

    Raises
    ------
    TinyharError
        Two names give macro names that agree on their first
        :data:`C_SIGNIFICANT_CHARS` characters (C99 5.2.4.1); the message
        names both and says to rename one.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix):
        raise ValueError(f"prefix {prefix!r} is not a C identifier")
    out: list[Safe] = []
    seen: dict[str, str] = {}
    for i, name in enumerate(names):
        ident = _sanitise(name)
        if not ident:
            ident = str(i)
        elif ident[0].isdigit():
            ident = "_" + ident
        full = prefix + ident
        key = full[:C_SIGNIFICANT_CHARS]
        if key in seen:
            raise TinyharError(
                f"the {what}s {seen[key]!r} and {str(name)!r} both become the C name {key}"
                f"{'...' if len(full) > C_SIGNIFICANT_CHARS else ''} (letters and digits "
                f"only, upper case, first {C_SIGNIFICANT_CHARS} characters); rename one of "
                "them in the data (e.g. with the data set's label mapping) and retrain"
            )
        seen[key] = str(name)
        out.append(Safe(full))
    return out


def py_string(text: str) -> Safe:
    """A Python / MicroPython string literal (with quotes), pure ASCII, for ``text``.

    Printable ASCII is kept except ``\\`` and ``'``; other characters are
    ``\\n``, ``\\t``, ``\\r``, ``\\xNN`` (below U+0080), ``\\uNNNN`` or
    ``\\UNNNNNNNN``: escapes that MicroPython's unicode strings and CPython
    read as the same code point.

    Parameters
    ----------
    text : str

    Returns
    -------
    Safe
    """
    out = []
    for ch in str(text):
        cp = ord(ch)
        if ch in _PY_SIMPLE:
            out.append(_PY_SIMPLE[ch])
        elif 32 <= cp < 127:
            out.append(ch)
        elif cp < 0x80:
            out.append(f"\\x{cp:02x}")
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:
            out.append(f"\\U{cp:08x}")
    return Safe("'" + "".join(out) + "'")


def py_literal(value: Any) -> Safe:
    """A MicroPython literal for numbers, strings, None and (nested) tuples or lists.

    Numbers, booleans and None are written as :func:`repr` writes them (so a
    config of numbers is unchanged), strings with :func:`py_string`,
    sequences as tuples (``(1,)`` for one item).

    Parameters
    ----------
    value : int, float, bool, str, None, or a tuple/list of these
        numpy scalars are written as the Python numbers they equal.

    Returns
    -------
    Safe

    Raises
    ------
    TypeError
        Any other type, or a float that is not finite (no literal for it).
    """
    if value is None or isinstance(value, (bool, np.bool_)):
        return Safe(repr(None if value is None else bool(value)))
    if isinstance(value, str):
        return py_string(value)
    if isinstance(value, numbers.Integral):
        return Safe(repr(int(value)))
    if isinstance(value, numbers.Real):
        if not math.isfinite(value):
            raise TypeError(f"no MicroPython literal for the float {value!r}")
        return Safe(repr(float(value)))
    if isinstance(value, (tuple, list)):
        items = [py_literal(v) for v in value]
        if len(items) == 1:
            return Safe(f"({items[0]},)")
        return Safe("(" + ", ".join(items) + ")")
    raise TypeError(f"no MicroPython literal for a {type(value).__name__}")


def text_line(text: str) -> Safe:
    """``text`` on one line of a UTF-8 text file (``features.txt``): printable
    characters as they are, ``\\`` and every other character (line breaks,
    controls) as ``\\xNN`` / ``\\uNNNN``.

    Parameters
    ----------
    text : str

    Returns
    -------
    Safe
    """
    return Safe("".join(ch if ch.isprintable() and ch != "\\" else _visible(ch)
                        for ch in str(text)))


def from_wire_name(text: str) -> str:
    """A class name as printed on the live app's ``PRED`` and ``POST`` lines, decoded.

    The app (``export/mpy/app_live.py``, ``wire_name``) writes ``%`` and the
    control characters (U+0000 to U+001F, U+007F: a line break would end the
    line) of a class name as ``%XX``, two upper-case hex digits, and every
    other character as it is (spaces included); this is the reverse
    (percent-encoding's notation, RFC 3986 section 2.1).

    Parameters
    ----------
    text : str
        The name's words as printed, joined by single spaces.

    Returns
    -------
    str
        The class name.

    Raises
    ------
    ValueError
        A ``%`` not followed by two hex digits of a character the app encodes.
    """
    out, i = [], 0
    while i < len(text):
        if text[i] != "%":
            out.append(text[i])
            i += 1
            continue
        code = text[i + 1:i + 3]
        value = int(code, 16) if re.fullmatch(r"[0-9A-F]{2}", code) else -1
        if value < 0 or not (value < 0x20 or value in (0x25, 0x7F)):
            raise ValueError(f"{text!r}: '%' must be followed by the hex code of '%' or a "
                             "control character (the app writes them as %XX)")
        out.append(chr(value))
        i += 3
    return "".join(out)


def md_code(text: str) -> Safe:
    """A Markdown code span that shows ``text`` literally (CommonMark 0.31, 6.1).

    The span's backtick fence is one longer than the longest run of
    backticks in the text (with a space inside the fence when the text
    starts or ends with a backtick); line breaks and other control or
    non-printable characters, and ``\\``, are written as ``\\xNN``-style
    escapes, so the span stays on its line and shows every character.

    Parameters
    ----------
    text : str

    Returns
    -------
    Safe
        E.g. ``"`acc_x`"``.
    """
    body = text_line(text)
    runs = [len(r) for r in re.findall(r"`+", body)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return Safe(f"{fence}{pad}{body}{pad}{fence}")


def _finalize(value: Any) -> Any:
    if isinstance(value, Safe) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise TinyharError(
        f"internal error: a template printed the unescaped {type(value).__name__} "
        f"{str(value)[:60]!r}; pass it through an escaping filter (tinyhar.export.escaping)"
    )


def _join(values: Iterable[Any], sep: str = ", ") -> Safe:
    items = [_finalize(v) for v in values]
    return Safe(sep.join(str(v) for v in items))


def _rows(values: Sequence[Any], per_line: int, indent: str = "    ") -> Safe:
    """Items joined by ``", "``, ``per_line`` to a line, lines joined by ``",\\n" + indent``."""
    items = [str(_finalize(v)) for v in values]
    rows = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return Safe((",\n" + indent).join(rows))


def template_environment(folder: str | Path):
    """The Jinja2 environment of the exporters' templates in ``folder``.

    Parameters
    ----------
    folder : str or Path
        Folder of the ``*.j2`` templates.

    Returns
    -------
    jinja2.Environment
        ``StrictUndefined`` (a missing value is an error), blocks trimmed,
        the trailing newline kept, the escaping functions as filters
        (``c_string``, ``c_comment``, ``py``, ``py_string``, ``md_code``) plus
        ``join_safe`` (joins safe items) and ``rows`` (items, ``per_line`` to a
        line, for C array initialisers), and a ``finalize`` hook that
        refuses plain strings.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.filters.update(
        c_string=c_string,
        c_comment=c_comment,
        py=py_literal,
        py_string=py_string,
        md_code=md_code,
        join_safe=_join,
        rows=_rows,
    )
    return env


def render(folder: str | Path, template: str, /, **context: Any) -> str:
    """Render the template file ``template`` of ``folder`` with ``context``.

    See :func:`template_environment` for what a template may print.

    Parameters
    ----------
    folder : str or Path
        Folder of the templates (one cached environment per folder).
    template : str
        File name, e.g. ``"tinyhar_model.h.j2"``.
    **context
        The template's variables: user strings raw (the template escapes
        them), generated code as :class:`Safe`, integers.

    Returns
    -------
    str

    Raises
    ------
    TinyharError
        The template printed a plain string (internal error).
    """
    return _environment(str(folder)).get_template(template).render(**context)


_ENVIRONMENTS: dict[str, Any] = {}


def _environment(folder: str):
    if folder not in _ENVIRONMENTS:
        _ENVIRONMENTS[folder] = template_environment(folder)
    return _ENVIRONMENTS[folder]

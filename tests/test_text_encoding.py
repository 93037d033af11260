"""Every text file tinyhar reads or writes is UTF-8, whatever the machine's locale.

Without ``encoding=``, Python uses the locale's encoding: ASCII with ``LC_ALL=C`` and
``PYTHONUTF8=0``, Latin-1 with ``LANG=en_US.ISO-8859-1``, a code page on Windows. Then
``summary.md`` (its ``±``) or a definition with a class label in another script cannot be
written (UnicodeEncodeError), and a UTF-8 file written on another machine is read wrong.
This test reads tinyhar's sources (not its MicroPython code, run by MicroPython, whose
files are UTF-8) and lists each text-mode ``open``, ``read_text``, ``write_text`` and
``subprocess`` call with ``text=True`` that does not name its encoding.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tinyhar

SRC = Path(tinyhar.__file__).resolve().parent
MICROPYTHON = SRC / "export" / "mpy"
LOCALE_OUTPUT = {
    "device/budget.py": "gcc, size and valgrind: their messages, in the locale's encoding",
    "export/c_runner.py": "gcc's messages; the example program prints ASCII only",
}
"""Files whose ``subprocess`` calls read other programs' text in the locale's encoding."""


def _mode(node: ast.Call, builtin: bool) -> ast.expr | None:
    """The ``mode`` argument of ``open(file, mode)`` or ``path.open(mode)``, or None."""
    for k in node.keywords:
        if k.arg == "mode":
            return k.value
    position = 1 if builtin else 0
    return node.args[position] if len(node.args) > position else None


def _text_calls_without_encoding(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute | ast.Name):
            continue
        builtin = isinstance(node.func, ast.Name)
        name = node.func.id if builtin else node.func.attr
        keywords = {k.arg for k in node.keywords}
        if "encoding" in keywords:
            continue
        if name == "open":
            mode = _mode(node, builtin)
            text = isinstance(mode, ast.Constant) and isinstance(mode.value, str)
            if not builtin and node.args and mode is node.args[0] and not text:
                continue  # zip.open(member), tarfile.open(path), os.open(path, flags)
            hit = mode is None or (text and "b" not in mode.value)
        else:
            hit = ((name == "read_text" and not node.args)
                   or (name == "write_text" and len(node.args) == 1)
                   or (name in ("run", "Popen", "check_output") and "text" in keywords
                       and path.relative_to(SRC).as_posix() not in LOCALE_OUTPUT))
        if hit:
            found.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


def test_text_files_and_our_programs_output_name_their_encoding():
    files = [p for p in sorted(SRC.rglob("*.py")) if MICROPYTHON not in p.parents]
    assert len(files) > 100
    missing = [hit for path in files for hit in _text_calls_without_encoding(path)]
    assert missing == [], "pass encoding=\"utf-8\":\n" + "\n".join(missing)

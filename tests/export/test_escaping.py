"""Escaping of user strings per context (tinyhar.export.escaping)."""

from __future__ import annotations

import ast
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinyhar.errors import TinyharError
from tinyhar.export import escaping as esc


def _c_literal_bytes(literal: str) -> bytes:
    """Bytes of a C string literal made by c_string (its escapes: simple and octal)."""
    assert literal[0] == literal[-1] == '"'
    body, out, i = literal[1:-1], bytearray(), 0
    simple = {"\\\\": b"\\", '\\"': b'"', "\\?": b"?", "\\n": b"\n", "\\t": b"\t",
              "\\r": b"\r"}
    while i < len(body):
        if body[i] == "\\":
            if body[i + 1:i + 4].isdigit() and len(body[i + 1:i + 4]) == 3:
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
            out += simple[body[i:i + 2]]
            i += 2
        else:
            assert body[i] != '"'
            out += body[i].encode("ascii")
            i += 1
    return bytes(out)


@given(st.text())
def test_c_string_round_trip(text):
    lit = esc.c_string(text)
    assert lit.isascii() and "\n" not in lit and "??" not in lit
    assert _c_literal_bytes(lit) == text.encode("utf-8")


def test_c_string_examples():
    assert esc.c_string("WALKING") == '"WALKING"'
    assert esc.c_string('a"b\\c??/') == '"a\\"b\\\\c\\?\\?/"'
    # octal escapes stop after three digits: "é1" is not one long escape
    assert esc.c_string("é1") == '"\\303\\2511"'


@given(st.text())
def test_c_comment_cannot_close_or_splice(text):
    out = esc.c_comment(text)
    assert out.isascii() and out.isprintable()
    assert "*/" not in out and "/*" not in out and "??" not in out
    assert not out.endswith("\\")
    assert "*/" not in "/* " + out + " */"[:-2]


def test_c_comment_examples():
    assert esc.c_comment("acc_x") == "acc_x"
    assert esc.c_comment("*/ x /*") == "*\\x2f x /\\x2a"
    assert esc.c_comment("a\nb\\") == "a\\x0ab\\x5c"
    assert esc.c_comment("???") == "?\\x3f?"


def test_c_identifiers():
    ids = esc.c_identifiers("TINYHAR_CLASS_", ["walk-fast", "int", "1st", "é", "x" * 200])
    assert ids[:4] == ["TINYHAR_CLASS_WALK_FAST", "TINYHAR_CLASS_INT", "TINYHAR_CLASS__1ST",
                       "TINYHAR_CLASS_3"]
    assert ids[4] == "TINYHAR_CLASS_" + "X" * 200
    assert all(re.fullmatch(r"[A-Z_][A-Z0-9_]*", i) for i in ids)
    with pytest.raises(TinyharError, match=r"class labels 'walk-fast' and 'walk fast' both "
                                           r"become the C name TINYHAR_CLASS_WALK_FAST"):
        esc.c_identifiers("TINYHAR_CLASS_", ["walk-fast", "walk fast"], "class label")
    # names that differ after the 63 significant characters of C99 are the same name
    with pytest.raises(TinyharError, match=r"first 63 characters"):
        esc.c_identifiers("P_", ["a" * 70 + "1", "a" * 70 + "2"])
    with pytest.raises(ValueError):
        esc.c_identifiers("1bad", ["x"])


@given(st.text())
def test_py_string_round_trip(text):
    lit = esc.py_string(text)
    assert lit.isascii() and "\n" not in lit
    assert ast.literal_eval(lit) == text


def test_py_literal_matches_repr_for_numbers_and_plain_names():
    for value in [(1, -1, (2, 3)), (), (5,), None, True, 0.1, 1e-07, 50.0, ("acc_x", (0, -1)),
                  (("a", 1), ("b", 2))]:
        assert esc.py_literal(value) == repr(value)
    assert esc.py_literal(["x"]) == "('x',)"
    assert esc.py_literal((np.int64(3), np.float32(0.5), np.bool_(True))) == "(3, 0.5, True)"
    assert ast.literal_eval(esc.py_literal(("it's", "é\n"))) == ("it's", "é\n")
    with pytest.raises(TypeError):
        esc.py_literal(float("nan"))
    with pytest.raises(TypeError):
        esc.py_literal({"a": 1})


def test_md_code():
    assert esc.md_code("acc_x") == "`acc_x`"
    assert esc.md_code("a``b") == "```a``b```"
    assert esc.md_code("`x") == "`` `x ``"
    assert esc.md_code("a\nb") == "`a\\x0ab`"


def test_templates_refuse_unescaped_strings(tmp_path):
    (tmp_path / "t.j2").write_text("{{ name }}|{{ name|c_string }}|{{ n }}|{{ text }}\n")
    out = esc.render(tmp_path, "t.j2", name=esc.code("ok"), n=3, text=esc.code("x"))
    assert out == 'ok|"ok"|3|x\n'
    with pytest.raises(TinyharError, match="unescaped str 'label'"):
        esc.render(tmp_path, "t.j2", name="label", n=3, text=esc.code("x"))
    with pytest.raises(TinyharError, match="unescaped float"):
        esc.render(tmp_path, "t.j2", name=esc.code("a"), n=0.5, text=esc.code("x"))


def test_text_line():
    assert esc.text_line("acc_x") == "acc_x"
    assert esc.text_line("é a\nb\\") == "é a\\x0ab\\x5c"


def test_from_wire_name_reverses_the_apps_wire_name():
    """The live app's wire_name (run here in CPython: the same MicroPython source) and
    from_wire_name are inverse for '%', control characters, spaces and any Unicode; a '%'
    the app would not write is refused."""
    from pathlib import Path

    import tinyhar.export

    path = Path(tinyhar.export.__file__).parent / "mpy" / "app_live.py"
    source = path.read_text(encoding="utf-8")
    start = source.index("def wire_name(name):")
    namespace: dict = {}
    exec(source[start:source.index("\n\n\n", start)], namespace)  # noqa: S102 (our own file)
    for name in ["walk", "walking up stairs", "50% done", "a\nb\r\x1c\x7f", "步行 %25", ""]:
        printed = namespace["wire_name"](name)
        assert "\n" not in printed and esc.from_wire_name(printed) == name
    assert namespace["wire_name"]("50% done\n") == "50%25 done%0A"
    for bad in ("50%", "50%2", "%41", "%zz", "%0a"):
        with pytest.raises(ValueError, match="hex code"):
            esc.from_wire_name(bad)

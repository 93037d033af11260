"""Exports of a model whose class labels are hostile to generated code.

A tiny tree model is trained on bundled HAPT windows whose labels are replaced
by strings that break naive code generation: comment terminators, quotes,
backslashes (also at the end, a C line splice), newlines, trigraphs, unicode,
C keywords, a 200-character label. The C export must compile with
``-Wall -Wextra -Werror`` (and ``-Wpedantic``), contain no label text outside
string literals and comments, and give every class name back byte for byte;
the MicroPython bundle must import and run in the unix port and give the labels
back exactly. Two labels that make the same C name are refused with both named.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess

import numpy as np
import pytest

from tinyhar.errors import TinyharError
from tinyhar.tools import find_tool, missing_message

needs_gcc = pytest.mark.skipif(find_tool("gcc") is None, reason=missing_message("gcc"))

HOSTILE = [
    "*/ int injected_code = 1; /*",
    "/* opened_comment",
    'quote " and \' apostrophe',
    "back\\slash at the end \\",
    "new\nline",
    "tab\tand\rreturn",
    "ünïcødé 🏃 走る",
    "int",
    "return",
    "L" * 200,
    "??/ trigraph ??=",
    "100% , percent_comma",
]


def _labelled(windows, labels):
    """The windows with label ``labels[i % len(labels)]`` for window i."""
    y = np.array([labels[i % len(labels)] for i in range(len(windows))], dtype=object)
    return dataclasses.replace(windows, y=y)


@pytest.fixture(scope="module")
def windows():
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.windows.windowing import make_windows

    rec = load_bundled_hapt().select(subjects=["1"])
    w, _ = make_windows(rec, window=128, hop=64, unit="samples")
    return w.subset(np.arange(min(len(w), 240)))


def _fit(windows, labels):
    from tinyhar.config import make_config
    from tinyhar.training import build_pipeline

    windows = _labelled(windows, labels)
    cfg = make_config({"features": {"set": "minimal"},
                       "model": {"n_estimators": 3, "max_depth": 4}})
    pipe = build_pipeline(windows, cfg, 64)
    pipe.model.fit(pipe.transform(windows), windows.y)
    return pipe, windows


@pytest.fixture(scope="module")
def hostile(windows):
    pipe, labelled = _fit(windows, HOSTILE)
    assert sorted(map(str, pipe.model.classes_)) == sorted(HOSTILE)
    return pipe, labelled


def _outside_literals(c_text: str) -> str:
    """Preprocessed C without its string and character literals."""
    return re.sub(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', '""', c_text)


@needs_gcc
def test_c_export_compiles_and_gives_the_labels_back(hostile, tmp_path):
    from tinyhar.export.c import build_example, export_c, run_windows

    pipe, labelled = hostile
    classes = pipe.output_classes  # the declared order
    export_c(pipe, tmp_path)
    exe = build_example(tmp_path, extra_flags=["-Wpedantic"])  # -Wall -Wextra -Werror too

    # no label text reached the code: preprocess (drops comments), drop literals
    gcc = find_tool("gcc")
    for name in ("tinyhar_model.c", "main.c"):
        pre = subprocess.run([gcc, "-std=c99", "-E", "-P", str(tmp_path / name)],
                             capture_output=True, text=True, check=True).stdout
        rest = _outside_literals(pre)
        for word in ("injected_code", "apostrophe", "trigraph", "percent_comma", "opened_comment"):
            assert word not in rest, (name, word)

    # every class name, byte for byte, from the stream header of the example
    sample = ",".join(["0.1"] * len(pipe.channels))
    out = subprocess.run([str(exe)], input=sample + "\n", capture_output=True, text=True,
                         check=True).stdout
    header = out.splitlines()[0].split(",")
    from urllib.parse import unquote

    assert header[:2] == ["time_s", "class"]
    assert [unquote(h[2:], errors="strict") for h in header[2:]] == classes

    # predicted names read back through run_windows equal the class of the index
    res = run_windows(exe, labelled.X[:24], len(classes))
    assert list(res["class_names"]) == [classes[i] for i in res["classes"]]
    np.testing.assert_array_equal(
        res["classes"], pipe.output_index[
            np.argmax(pipe.model.decision_scores(pipe.transform(labelled)[:24]), axis=1)])

    # the macro names: keywords prefixed, long names kept, and the header's text stays
    # inside its comments
    header_text = (tmp_path / "tinyhar_model.h").read_text(encoding="ascii")
    assert "#define TINYHAR_CLASS_INT " in header_text
    assert "#define TINYHAR_CLASS_RETURN " in header_text
    assert f"#define TINYHAR_CLASS_{'L' * 200} " in header_text
    for i, name in enumerate(classes):
        assert re.search(rf"#define TINYHAR_CLASS_\w+ {i}  /\* [^\n]*\*/\n", header_text), name


@needs_gcc
def test_labels_with_the_same_c_name_are_refused(windows, tmp_path):
    from tinyhar.export.c import export_c

    pipe, _ = _fit(windows, ["walk-fast", "walk fast", "sit"])
    with pytest.raises(TinyharError, match=r"'walk fast'.*'walk-fast'|'walk-fast'.*'walk fast'"):
        export_c(pipe, tmp_path)
    assert not (tmp_path / "tinyhar_model.h").exists()


def test_micropython_bundle_imports_and_gives_the_labels_back(hostile, tmp_path):
    from tinyhar.export.micropython import (
        export_micropython,
        find_micropython,
        run_bundle_features,
        run_micropython,
    )

    try:
        find_micropython()
    except TinyharError as exc:
        pytest.skip(f"MicroPython unix port not available: {exc}")
    pipe, labelled = hostile
    classes = pipe.output_classes  # the declared order
    info = export_micropython(pipe, tmp_path, windows=labelled.subset(np.arange(24)),
                              n_test_windows=24)
    assert info["classes"] == classes
    assert json.loads((tmp_path / "bundle.json").read_text())["classes"] == classes
    config = (tmp_path / "tinyhar_config.py").read_bytes()
    assert config.isascii()

    code = (
        "import binascii, tinyhar_config as c\n"
        "for k in c.CLASSES:\n"
        "    print(binascii.hexlify(k.encode('utf-8')).decode())\n"
        "import app_test\n"
        "app_test.run(verbose=False)\n"
    )
    out = run_micropython(code, tmp_path).stdout.splitlines()
    got = [bytes.fromhex(line).decode("utf-8") for line in out[:len(classes)]]
    assert got == classes
    result = json.loads(out[-1].split(" ", 1)[1])
    assert result["n"] == 24

    # CPython reads the same config (plain literals) to the same labels
    namespace: dict = {}
    exec(config.decode("ascii"), namespace)
    assert list(namespace["CLASSES"]) == classes

    _, pred = run_bundle_features(tmp_path, labelled.X[:24])
    np.testing.assert_array_equal(pred, pipe.output_index[
        np.argmax(pipe.model.decision_scores(pipe.transform(labelled)[:24]), axis=1)])

    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    classes_line = next(ln for ln in readme.splitlines() if "classes `" in ln)
    assert "\n" not in classes_line and "`new\\x0aline`" in classes_line


def test_hostile_channel_name(windows, tmp_path):
    """A channel without a sensor role named like code: C compiles and classifies as
    Python does; the MicroPython config gives the name back exactly."""
    from tinyhar.export.micropython import export_micropython, find_micropython, run_micropython

    name = '*/ evil_chan\n"x" ü \\'
    w = windows.subset(np.arange(120))
    w = dataclasses.replace(w, X=np.concatenate([w.X, 2 * w.X[:, :, :1]], axis=2),
                            channels=[*w.channels, name])
    pipe, labelled = _fit(w, ["a", "b", "c"])
    assert pipe.channels[-1] == name
    expected = pipe.output_index[
        np.argmax(pipe.model.decision_scores(pipe.transform(labelled)[:24]), axis=1)]
    if find_tool("gcc") is not None:
        from tinyhar.export.c import build_example, export_c, run_windows

        export_c(pipe, tmp_path / "c")
        exe = build_example(tmp_path / "c", extra_flags=["-Wpedantic"])
        res = run_windows(exe, labelled.X[:24], 3)
        np.testing.assert_array_equal(res["classes"], expected)
    try:
        find_micropython()
    except TinyharError as exc:
        pytest.skip(f"MicroPython unix port not available: {exc}")
    export_micropython(pipe, tmp_path / "mpy", n_test_windows=0)
    assert json.loads((tmp_path / "mpy" / "bundle.json").read_text())["channels"][-1] == name
    out = run_micropython(
        "import binascii, tinyhar_config as c, tinyhar_features as f\n"
        "f.Features(c)\n"
        "print(binascii.hexlify(c.CHANNELS[-1].encode('utf-8')).decode())\n",
        tmp_path / "mpy").stdout
    assert bytes.fromhex(out.split()[-1]).decode("utf-8") == name
    lines = (tmp_path / "mpy" / "features.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(pipe.extractor.get_feature_names_out())

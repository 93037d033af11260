"""Finding and staging micropython-lib packages (umqtt.simple, aioble) for deploy."""

from __future__ import annotations

import pytest

from tinyhar.errors import TinyharError
from tinyhar.export.aioble import add_aioble, find_aioble
from tinyhar.export.umqtt import add_umqtt, find_umqtt


@pytest.fixture
def no_home(tmp_path, monkeypatch):
    """Nothing in ~/.micropython/lib; no TINYHAR_* variable."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TINYHAR_UMQTT", raising=False)
    monkeypatch.delenv("TINYHAR_AIOBLE", raising=False)
    return tmp_path


def test_umqtt_from_its_file_its_lib_folder_or_home(no_home, monkeypatch):
    assert find_umqtt() is None
    lib = no_home / "dl" / "umqtt"
    lib.mkdir(parents=True)
    (lib / "simple.py").write_text("# umqtt.simple\n")
    for env in (lib / "simple.py", lib.parent, lib):
        monkeypatch.setenv("TINYHAR_UMQTT", str(env))
        assert find_umqtt() == lib / "simple.py"
    monkeypatch.delenv("TINYHAR_UMQTT")
    home = no_home / "home" / ".micropython" / "lib" / "umqtt"
    home.mkdir(parents=True)
    (home / "simple.py").write_text("# umqtt.simple\n")
    assert find_umqtt() == home / "simple.py"
    copied = add_umqtt(no_home / "stage")
    assert copied == no_home / "stage" / "umqtt" / "simple.py"
    assert copied.read_text() == "# umqtt.simple\n"
    assert (copied.parent / "__init__.py").read_text() == ""
    assert "MIT License" in (copied.parent / "NOTICE.txt").read_text()


def test_aioble_needs_all_its_modules_and_goes_to_lib(no_home, monkeypatch):
    pkg = no_home / "mip" / "aioble"
    pkg.mkdir(parents=True)
    for name in ("__init__.py", "core.mpy", "device.mpy"):  # mip installs .mpy files
        (pkg / name).write_bytes(b"M\x06")
    monkeypatch.setenv("TINYHAR_AIOBLE", str(pkg.parent))
    assert find_aioble() is None  # no peripheral module: incomplete
    with pytest.raises(TinyharError, match="the BLE output needs aioble; get it with .*mip"):
        add_aioble(no_home / "stage")
    assert add_aioble(no_home / "stage", required=False) is None
    (pkg / "peripheral.mpy").write_bytes(b"M\x06")
    (pkg / "central.mpy").write_bytes(b"M\x06")  # not needed by the BLE output: not copied
    assert find_aioble() == pkg
    dest = add_aioble(no_home / "stage")
    assert dest == no_home / "stage" / "lib" / "aioble"
    assert sorted(p.name for p in dest.iterdir()) == [
        "NOTICE.txt", "__init__.py", "core.mpy", "device.mpy", "peripheral.mpy"]
    assert "Jim Mussared" in (dest / "NOTICE.txt").read_text()


def test_missing_umqtt_message_is_unchanged(no_home):
    with pytest.raises(TinyharError, match=r"^the MQTT output needs umqtt.simple; get it with "
                                           r"`micropython -m mip install umqtt.simple`"):
        add_umqtt(no_home / "stage")

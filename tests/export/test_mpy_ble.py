"""The board app's BLE output (export/mpy/outputs.py BleOutput) on aioble, in the unix port.

The unix port has no ``bluetooth`` module: a stand-in (FAKE_BLUETOOTH) that
records every ``gap_advertise`` call is put on its path, and the real aioble
(micropython-lib, found by tinyhar.export.aioble and staged as deploy stages
it) runs on top of it. What aioble hands to ``gap_advertise`` must be the
documented advertisement and decode with tinyhar.outputs.ble.decode to the
class, confidence and sequence number of every prediction the app printed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.export.test_mpy_outputs import (  # noqa: F401  (fixtures)
    _micropython_or_skip,
    _preds,
    _staged,
    bundle,
    replay_csv,
)
from tinyhar.errors import TinyharError
from tinyhar.export import micropython as mpx

FAKE_BLUETOOTH = '''
# Stand-in for MicroPython's bluetooth module: records gap_advertise calls.
calls = []


class BLE:
    def __init__(self):
        self._active = False

    def active(self, *state):
        if state:
            self._active = bool(state[0])
        return self._active

    def irq(self, handler):
        self.handler = handler

    def config(self, *args, **kwargs):
        return None

    def gap_advertise(self, interval_us, adv_data=None, resp_data=None, connectable=True):
        calls.append((interval_us, adv_data and bytes(adv_data), resp_data and bytes(resp_data),
                      connectable))
'''

PRINT_CALLS = """
import bluetooth, binascii
hexed = lambda b: b and binascii.hexlify(b).decode()
for iv, adv, resp, conn in bluetooth.calls:
    print("ADV", iv, hexed(adv), hexed(resp), conn)
"""


def _aioble_or_skip() -> None:
    from tinyhar.export.aioble import AIOBLE_INSTALL_HINT, find_aioble

    if find_aioble() is None:
        pytest.skip(f"aioble not found; get it with {AIOBLE_INSTALL_HINT}")


def _board(bundle_dir: Path, tmp_path: Path, wifi_text: str | None = None) -> Path:
    """bundle + what `tinyhar deploy --outputs ble` copies + the stand-in bluetooth module."""
    board = _staged(bundle_dir, tmp_path, "ble", wifi_text)
    (board / "bluetooth.py").write_text(FAKE_BLUETOOTH)
    return board


def _lib_path(board: Path) -> str:
    # the board's sys.path holds /lib, where deploy puts aioble/
    return f"import sys\nsys.path.append({str(board / 'lib')!r})\n"


def _calls(stdout: str) -> list[tuple[int | None, bytes | None, bytes | None, bool]]:
    out = []
    for line in stdout.splitlines():
        if line.startswith("ADV "):
            _, iv, adv, resp, conn = line.split()
            out.append((None if iv == "None" else int(iv),
                        None if adv == "None" else bytes.fromhex(adv),
                        None if resp == "None" else bytes.fromhex(resp), conn == "True"))
    return out


def test_live_app_advertises_every_prediction_with_aioble(bundle, replay_csv, tmp_path):  # noqa: F811
    from tinyhar.outputs.ble import decode, decode_manufacturer_data

    _micropython_or_skip()
    _aioble_or_skip()
    name = "thar-kitchen-band-7"  # 19 bytes: advertised as its first 15
    board = _board(bundle, tmp_path, f'[ble]\nname = "{name}"\ninterval_ms = 100\n')
    assert (board / "lib" / "aioble" / "peripheral.py").is_file()
    assert "MIT License" in (board / "lib" / "aioble" / "NOTICE.txt").read_text()
    assert not (bundle / "lib").exists()  # aioble is staged for the board, never exported
    proc = mpx.run_micropython(
        _lib_path(board) + f"import app_live\napp_live.main(replay={str(replay_csv)!r}, "
        "verbose=False)\n" + PRINT_CALLS, board, timeout=300)
    preds = _preds(proc.stdout)
    calls = _calls(proc.stdout)
    classes = json.loads((bundle / "bundle.json").read_text())["classes"]
    assert len(preds) > 40
    # per prediction: aioble stops the previous advertisement (cancelled task), starts the
    # next; close() stops the last one
    starts = [c for c in calls if c[0] is not None]
    assert len(starts) == len(preds)
    assert calls[0][0] is not None and calls[-1] == (None, None, None, True)
    assert all(calls[i][0] is None for i in range(1, len(calls), 2))
    assert len(calls) == 2 * len(preds)
    for i, ((iv, adv, resp, connectable), (_, cls, proba)) in enumerate(
            zip(starts, preds, strict=True)):
        k = classes.index(cls)
        seq = i + 1
        assert (iv, resp, connectable) == (100_000, None, False)
        # the documented layout: flags, complete local name, manufacturer data
        assert adv[:3] == bytes((2, 0x01, 0x06))
        assert adv[3:5] == bytes((16, 0x09)) and adv[5:20] == name.encode()[:15]
        assert adv[20:27] == bytes((9, 0xFF, 0xFF, 0xFF, 0x54, 1, k))
        assert abs(adv[27] - proba[k] * 255) <= 0.5 + 0.02  # PRED prints 4 decimals
        assert adv[28:] == bytes((seq & 0xFF, seq >> 8)) and len(adv) == 30
        msg = decode(adv)
        assert msg.name == name[:15]
        assert msg.class_index == k and msg.activity(classes) == cls
        assert msg.confidence == pytest.approx(proba[k], abs=0.5 / 255 + 1e-4)
        assert msg.seq == seq
        assert decode_manufacturer_data(adv[-6:], msg.name) == msg


BLE_SCRIPT = """
import asyncio, outputs
classes = ("walk", "sit", "lie")
def feed(out):
    for i, (k, c) in enumerate(%(cases)r):
        if k < 0:
            out.invalid(i * 1.28, "nan")
        else:
            out.prediction(i * 1.28, classes[k], c, (c, 1 - c, 0.0))
        yield
    out.seq = 65534  # the sequence number wraps
    for t in (99.0, 100.0):
        out.prediction(t, "lie", 1.0, (0.0, 0.0, 1.0))
        yield
    out.close()
    yield
async def in_loop(out):
    for _ in feed(out):
        await asyncio.sleep_ms(5)  # an app under asyncio awaits between windows
out = outputs.BleOutput(classes, name="thar-ab12")
if %(in_loop)r:
    asyncio.run(in_loop(out))
else:
    for _ in feed(out):
        pass
"""

CASES = [(0, 0.0), (2, 0.5), (-1, 0.0), (1, 1.0), (1, 0.876)]


@pytest.mark.parametrize("in_loop", [False, True], ids=["sync-app", "asyncio-app"])
def test_ble_output_encodes_through_aioble_and_decodes_in_python(bundle, tmp_path, in_loop):  # noqa: F811
    """The app's synchronous loop, and an app that already runs under asyncio."""
    from tinyhar.outputs.ble import decode

    _micropython_or_skip()
    _aioble_or_skip()
    board = _board(bundle, tmp_path)
    code = BLE_SCRIPT % {"cases": CASES, "in_loop": in_loop}
    calls = _calls(mpx.run_micropython(_lib_path(board) + code + PRINT_CALLS, board,
                                       timeout=60).stdout)
    starts = [c for c in calls if c[0] is not None]
    want = [(None if k < 0 else k, c, i + 1) for i, (k, c) in enumerate(CASES)]
    want += [(2, 1.0, 65535), (2, 1.0, 0)]
    assert calls[-1] == (None, None, None, True)  # close() stops advertising
    assert len(starts) == len(want) and len(calls) == 2 * len(want)
    for (iv, adv, resp, connectable), (k, c, seq) in zip(starts, want, strict=True):
        assert (iv, resp, connectable) == (200_000, None, False)
        msg = decode(adv)
        assert (msg.name, msg.class_index, msg.seq) == ("thar-ab12", k, seq)
        assert msg.invalid == (k is None)
        assert msg.confidence == pytest.approx(c, abs=0.5 / 255)


def test_ble_output_without_aioble_says_how_to_get_it(bundle, tmp_path):  # noqa: F811
    _micropython_or_skip()
    board = tmp_path / "board"
    shutil.copytree(bundle, board)
    (board / "bluetooth.py").write_text(FAKE_BLUETOOTH)
    with pytest.raises(TinyharError, match="needs aioble.*mip install aioble-peripheral"):
        mpx.run_micropython("import outputs\noutputs.BleOutput(('walk',))\n", board, timeout=60)


# --------------------------------------------------------------------------- deploy


def _runner(seen):
    def runner(cmd, **kw):
        import subprocess

        seen.append(list(cmd))
        for arg in cmd:  # the staged folder exists while mpremote copies it
            if arg.endswith("lib"):
                assert (Path(arg) / "aioble" / "core.py").is_file()
        return subprocess.CompletedProcess(cmd, 0, "", "")

    return runner


def test_deploy_copies_aioble_to_lib(bundle, tmp_path):  # noqa: F811
    from tinyhar.device import deploy as dep

    _aioble_or_skip()
    seen: list[list[str]] = []
    info = dep.deploy(bundle, "/dev/ttyX", compile=False, runner=_runner(seen), outputs="ble")
    assert "lib" in info["files"]
    assert any(c[-4:-1] == ["cp", "-r", c[-2]] and c[-2].endswith("lib") and c[-1] == ":"
               for c in seen)
    assert not any("mip" in c for c in seen)


def test_deploy_installs_aioble_with_mip_when_not_on_this_machine(bundle, tmp_path,  # noqa: F811
                                                                  monkeypatch):
    from tinyhar.device import deploy as dep
    from tinyhar.export.aioble import find_aioble

    monkeypatch.setenv("TINYHAR_AIOBLE", str(tmp_path / "nowhere"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert find_aioble() is None
    seen: list[list[str]] = []
    info = dep.deploy(bundle, "/dev/ttyX", compile=False, runner=_runner(seen),
                      outputs="screen,ble")
    assert "lib" not in info["files"] and info["installed"] == ["aioble-peripheral"]
    assert seen[-1][-5:] == ["connect", "/dev/ttyX", "mip", "install", "aioble-peripheral"]

    def offline(cmd, **kw):
        import subprocess

        if "mip" in cmd:
            return subprocess.CompletedProcess(cmd, 1, "", "OSError: -2\n")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    with pytest.raises(TinyharError, match=r"(?s)OSError: -2.*could not install "
                                           r"aioble-peripheral.*is this computer online"):
        dep.deploy(bundle, "/dev/ttyX", compile=False, runner=offline, outputs="ble")


def test_a_long_name_is_cut_so_the_prediction_stays_in_the_advertisement(bundle):  # noqa: F811
    from tinyhar.outputs.ble import decode

    _micropython_or_skip()
    code = ("import outputs, binascii\n"
            "for name in ('thar-\u00e9tage-du-salon', 'thar-salon-\u00e9t\u00e9'):\n"
            "    print(binascii.hexlify(outputs.ble_advertisement(3, 0.25, 513, name)).decode())\n")
    first, second = mpx.run_micropython(code, bundle).stdout.split()
    adv = bytes.fromhex(first)
    assert len(adv) == 30  # aioble's limit: under 31 bytes of advertising data
    msg = decode(adv)
    assert msg.name == "thar-\u00e9tage-du-"  # 15 bytes of UTF-8 (\u00e9 takes 2)
    assert (msg.class_index, msg.seq, round(msg.confidence * 255)) == (3, 513, 64)
    assert decode(bytes.fromhex(second)).name == "thar-salon-\u00e9t"  # whole characters: 14


def test_a_failing_radio_is_reported_and_the_app_runs_on(bundle, replay_csv, tmp_path):  # noqa: F811
    _micropython_or_skip()
    _aioble_or_skip()
    board = _board(bundle, tmp_path)
    fake = (board / "bluetooth.py").read_text()
    (board / "bluetooth.py").write_text(fake.replace(
        "        calls.append(", "        if interval_us:\n"
        "            raise OSError(-30)  # e.g. the controller is busy\n"
        "        calls.append("))
    out = mpx.run_micropython(
        _lib_path(board) + f"import app_live\napp_live.main(replay={str(replay_csv)!r}, "
        "max_windows=4, verbose=False)\n", board, timeout=120).stdout
    assert len(_preds(out)) == 4
    assert "HOOK ble OSError: -30 (1 errors)" in out
    assert "(3 errors)" in out and "(4 errors)" not in out  # only the first 3 are printed

"""tinyhar deploy / device test: mpremote command construction and errors without a board."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tinyhar.device import deploy as dep
from tinyhar.errors import TinyharError

PORT = "/dev/ttyNONEXISTENT"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """A bundle of a tiny minimal-feature pipeline (no test data needed here)."""
    from tinyhar.config import make_config
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.export.micropython import export_micropython
    from tinyhar.training import build_pipeline
    from tinyhar.windows.windowing import make_windows

    rec = load_bundled_hapt().select(subjects=["1"])
    windows, _ = make_windows(rec, window=128, hop=64, unit="samples")
    cfg = make_config({"features": {"set": "minimal"}, "model": {"n_estimators": 3,
                                                                "max_depth": 4}})
    pipe = build_pipeline(windows, cfg, 64)
    pipe.model.fit(pipe.transform(windows), windows.y)
    out = tmp_path_factory.mktemp("bundle")
    export_micropython(pipe, out, windows=windows.subset(np.arange(20)), n_test_windows=12)
    return out


def test_bundle_files_exclude_host_notes(bundle):
    names = [p.name for p in dep.bundle_files(bundle)]
    assert "tinyhar_features.py" in names and "model.bin" in names and "testdata.bin" in names
    assert "README.md" not in names and "bundle.json" not in names
    assert "main_autostart.py" not in names
    assert "main_autostart.py" in [p.name for p in dep.bundle_files(bundle, autostart=True)]


def test_deploy_commands():
    files = ["b/tinyhar_features.mpy", "b/model.bin", "b/main_autostart.py"]
    cmds = dep.deploy_commands("/dev/ttyACM0", files, remove=["tinyhar_features.py"],
                               autostart=True, mpremote=["mpremote"])
    assert cmds[0][:4] == ["mpremote", "connect", "/dev/ttyACM0", "exec"]
    assert "os.remove" in cmds[0][4] and "tinyhar_features.py" in cmds[0][4]
    assert cmds[1] == ["mpremote", "connect", "/dev/ttyACM0", "fs", "cp",
                       "b/tinyhar_features.mpy", "b/model.bin", ":"]
    assert cmds[2] == ["mpremote", "connect", "/dev/ttyACM0", "fs", "cp",
                       "b/main_autostart.py", ":main.py"]
    plain = dep.deploy_commands("COM3", ["x.py"], mpremote=["mpremote"])
    assert plain == [["mpremote", "connect", "COM3", "fs", "cp", "x.py", ":"]]


def test_device_test_and_compile_commands():
    assert dep.device_test_command("/dev/ttyACM0", mpremote=["mpremote"]) == [
        "mpremote", "connect", "/dev/ttyACM0", "exec", "import app_test; app_test.run()"]
    assert dep.device_test_command("p", mpremote=["m"], limit=5)[-1].endswith("run(limit=5)")
    cmd = dep.compile_command("a/x.py", "o/x.mpy", mpy_cross=["mpy-cross"])
    assert cmd == ["mpy-cross", "-march=xtensawin", "-o", "o/x.mpy", "a/x.py"]


def test_deploy_compiles_and_copies(bundle):
    """deploy() with mpremote replaced: real mpy-cross compilation, recorded copy commands."""
    try:
        dep.find_mpy_cross()
        dep.find_mpremote()
    except TinyharError as exc:
        pytest.skip(str(exc))
    calls = []

    def runner(args, **kw):
        if "mpremote" in args[0]:
            calls.append(list(args))
            if args[3] == "fs":  # the compiled files exist while mpremote would copy them
                for a in args[5:-1]:
                    assert __import__("pathlib").Path(a).is_file(), a
            return subprocess.CompletedProcess(args, 0, "", "")
        return subprocess.run(args, **kw)

    res = dep.deploy(bundle, "/dev/ttyACM0", compile=True, runner=runner)
    assert "tinyhar_features.mpy" in res["files"] and "model.bin" in res["files"]
    assert "main_autostart.py" not in res["files"]
    assert calls[0][3] == "exec" and "tinyhar_features.py" in calls[0][4]
    assert calls[1][3:5] == ["fs", "cp"] and calls[1][-1] == ":"
    res = dep.deploy(bundle, "/dev/ttyACM0", compile=False, autostart=True,
                     runner=lambda a, **k: subprocess.CompletedProcess(a, 0, "", ""))
    assert "tinyhar_features.py" in res["files"]
    assert res["commands"][-1][-2:] == [str(bundle / "main_autostart.py"), ":main.py"]


def test_no_board_error_says_what_to_do():
    try:
        dep.find_mpremote()
    except TinyharError as exc:
        pytest.skip(str(exc))
    with pytest.raises(TinyharError) as err:
        dep.device_test(PORT, timeout=60)
    msg = str(err.value)
    assert PORT in msg and "cable" in msg and "mpremote connect list" in msg


def test_parse_test_output():
    out = ("accuracy 0.9000 (9/10 windows)\n"
           'TINYHAR_RESULT {"n": 10, "labelled": 10, "correct": 9, "accuracy": 0.9, '
           '"compared": 10, "agree": 10, "us_per_window": 45000.0}\n')
    res = dep.parse_test_output(out)
    assert res["accuracy"] == 0.9 and res["agreement"] == 1.0 and res["ms_per_window"] == 45.0
    with pytest.raises(TinyharError, match="no test result"):
        dep.parse_test_output("Traceback ...\nImportError: no module named 'app_test'")


def test_device_test_with_a_fake_board():
    def runner(args, **kw):
        return subprocess.CompletedProcess(
            args, 0, 'TINYHAR_RESULT {"n": 4, "labelled": 4, "correct": 3, "accuracy": 0.75, '
            '"compared": 4, "agree": 4, "us_per_window": 80000}\n', "")

    res = dep.device_test("/dev/ttyACM0", runner=runner)
    assert res["accuracy"] == 0.75 and res["ms_per_window"] == 80.0


def test_missing_mpremote_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TinyharError, match="pip install mpremote"):
        dep.find_mpremote()


def test_resolve_bundle_errors(tmp_path, bundle):
    assert dep.resolve_bundle(bundle) == bundle
    with pytest.raises(TinyharError, match="tinyhar train"):
        dep.resolve_bundle(tmp_path)

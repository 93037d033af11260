"""Command-line interface: ``tinyhar train | evaluate | datasets | features``.

A thin layer over :mod:`tinyhar.training`, :mod:`tinyhar.datasets` and
:mod:`tinyhar.features`. User mistakes (:class:`tinyhar.errors.TinyharError`)
are printed as one clear message and exit with status 2, without traceback.
"""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tinyhar.errors import TinyharError
from tinyhar.models.nn.presets import PRESETS

app = typer.Typer(
    help="tinyhar: human activity recognition from motion sensors, down to microcontrollers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _friendly(func):
    """Turn TinyharError into a one-line message and exit code 2; show warnings plainly."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        def show(message, category, filename, lineno, file=None, line=None):
            err_console.print(f"[yellow]warning:[/] {message}")

        old = warnings.showwarning
        warnings.showwarning = show
        try:
            return func(*args, **kwargs)
        except TinyharError as exc:
            err_console.print(f"[bold red]error:[/] {exc}")
            raise typer.Exit(2) from None
        finally:
            warnings.showwarning = old

    return wrapper


@app.command()
@_friendly
def train(
    out: Annotated[Path, typer.Option(help="Run folder to write.")] = Path("runs/first"),
    config: Annotated[
        Path | None, typer.Option(help="YAML configuration (see tinyhar.config).")
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Override dataset.name.")] = None,
    path: Annotated[str | None, typer.Option(help="Override dataset.path.")] = None,
    sensors: Annotated[str | None, typer.Option(help="Override: acc | acc+gyro | all.")] = None,
    model: Annotated[
        str | None,
        typer.Option(help="random_forest | extra_trees | cnn1d | lstm | bilstm | gru | tcn."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="Network recipe: " + " | ".join(PRESETS) + "."),
    ] = None,
    n_estimators: Annotated[int | None, typer.Option(help="Override the number of trees.")] = None,
    max_depth: Annotated[int | None, typer.Option(help="Override the tree depth.")] = None,
    protocol: Annotated[
        str | None,
        typer.Option(help="Override: holdout (by subject) | random (leaks subjects, warns)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the seed.")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing run folder (atomically).")
    ] = False,
) -> None:
    """Train on a data set (default: the bundled HAPT copy) and write a run folder."""
    from tinyhar.config import TrainConfig, load_config, make_config
    from tinyhar.training import train as run_train

    cfg = load_config(config) if config else TrainConfig()
    data = cfg.model_dump(mode="json")
    if preset is not None:
        from tinyhar.training import apply_preset

        data = apply_preset(data, preset)
    overrides = {
        ("dataset", "name"): dataset,
        ("dataset", "path"): path,
        ("dataset", "sensors"): sensors,
        ("model", "kind"): model,
        ("model", "n_estimators"): n_estimators,
        ("model", "max_depth"): max_depth,
        ("evaluation", "protocol"): protocol,
    }
    for (section, key), value in overrides.items():
        if value is not None:
            data[section][key] = value
    if seed is not None:
        data["seed"] = seed
    cfg = make_config(data, "command line")
    metrics = run_train(cfg, out, console, overwrite=overwrite)
    _print_metrics(metrics)
    console.print(f"run folder: [bold]{out}[/] (summary.md, metrics.json, figures)")


def _print_metrics(m: dict) -> None:
    table = Table(title=f"{m['dataset']} -- {m.get('protocol', 'evaluation')}")
    table.add_column("class")
    for col in ("precision", "recall", "F1", "windows"):
        table.add_column(col, justify="right")
    for c, s in m["per_class"].items():
        table.add_row(
            c, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"])
        )
    console.print(table)
    line = (
        f"accuracy [bold]{m['accuracy']:.3f}[/]  balanced accuracy "
        f"{m['balanced_accuracy']:.3f}  macro-F1 [bold]{m['macro_f1']:.3f}[/]"
    )
    if "params" in m:
        line += f"  model: {m['params']} parameters, {m['macs']} MACs per window"
    elif "model_size" in m:
        s = m["model_size"]
        line += f"  model: {s['trees']} trees, {s['nodes']} nodes, {s['bytes']} bytes"
    console.print(line)
    cv = m.get("cross_validation")
    if cv:
        console.print(
            f"leave-subjects-out CV on training subjects ({cv['n_folds']} folds): "
            f"macro-F1 {cv['macro_f1_mean']:.3f} ± {cv['macro_f1_std']:.3f}"
        )


@app.command()
@_friendly
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run folder written by `tinyhar train`.")],
    dataset: Annotated[str, typer.Option(help="Data set name or definition file.")] = "hapt",
    path: Annotated[str | None, typer.Option(help="File or folder of the data set.")] = None,
    subjects: Annotated[
        str | None, typer.Option(help="Comma-separated subject ids to score.")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
) -> None:
    """Score a trained run on a data set, subject-independently."""
    from tinyhar.training import evaluate_run

    subj = [s.strip() for s in subjects.split(",")] if subjects else None
    metrics = evaluate_run(run, dataset, path, subj, err_console if json_out else console)
    if json_out:
        print(json.dumps(metrics, indent=2))
    else:
        _print_metrics({**metrics, "protocol": f"subjects {', '.join(metrics['subjects'])}"})


@app.command()
@_friendly
def datasets(
    name: Annotated[str | None, typer.Argument(help="Describe this data set.")] = None,
    path: Annotated[str | None, typer.Option(help="File or folder of the data set.")] = None,
) -> None:
    """List the data sets, or describe one (subjects, classes, hours per class)."""
    from tinyhar.datasets.registry import DATASETS, describe_dataset, load_dataset

    if name is None:
        table = Table(title="data sets (tinyhar datasets NAME describes one)")
        for col in ("name", "kind", "rate (Hz)", "description"):
            table.add_column(col)
        for key, info in DATASETS.items():
            table.add_row(key, str(info.kind), f"{info.sampling_rate_hz:g}", info.description)
        console.print(table)
        console.print("Your own data: pass a YAML dataset definition path as the name.")
        return
    info = describe_dataset(load_dataset(name, path=path))
    console.print(
        f"[bold]{info['name']}[/] ({info['kind']}), {info['sampling_rate_hz']:g} Hz, "
        f"channels {info['channels']}"
    )
    console.print(f"{info['n_subjects']} subjects: {', '.join(map(str, info['subjects']))}")
    per_class = info.get("hours_per_class") or info.get("windows_per_class") or {}
    unit = "hours" if "hours_per_class" in info else "windows"
    table = Table()
    table.add_column("class")
    table.add_column(unit, justify="right")
    for c, v in per_class.items():
        table.add_row(str(c), f"{v:.2f}" if unit == "hours" else str(v))
    console.print(table)
    if info.get("citation"):
        console.print(f"cite: {info['citation']}")
    if info.get("licence"):
        console.print(f"licence: {info['licence']}")


@app.command()
@_friendly
def features(
    feature_set: Annotated[
        str, typer.Option("--set", help="default | light | minimal | full")
    ] = "default",
    sensors: Annotated[str, typer.Option(help="acc | acc+gyro")] = "acc+gyro",
    sampling_rate_hz: Annotated[float, typer.Option(help="Sampling rate in Hz.")] = 50.0,
) -> None:
    """List every feature with its unit and a one-line definition."""
    from tinyhar.datasets.recording import ACC_CHANNELS, GYRO_CHANNELS
    from tinyhar.features import feature_catalog

    channels = ACC_CHANNELS + (GYRO_CHANNELS if sensors == "acc+gyro" else ())
    catalog = feature_catalog(
        channels=channels, feature_set=feature_set, sampling_rate_hz=sampling_rate_hz
    )
    table = Table(title=f"{len(catalog)} features ({feature_set} set, {sensors})")
    for col in ("name", "unit", "group", "definition", "source"):
        table.add_column(col, overflow="fold")
    for f in catalog:
        table.add_row(f.name, f.unit, f.group, f.definition, f.source)
    console.print(table)


@app.command("export")
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
) -> None:
    """Export a run to a C library, a MicroPython bundle or ONNX, and report its device budget."""
    from tinyhar.errors import ConfigError
    from tinyhar.runfolder import write_text_atomic

    targets = ("c", "micropython", "onnx")
    if target not in targets:
        raise ConfigError(f"--target must be one of {list(targets)}, got {target!r}")
    out = out or run / "export" / target
    if target == "c":
        from tinyhar.device.budget import c_budget, format_budget, write_budget
        from tinyhar.export.c import export_c

        info = export_c(run, out)
        names = ", ".join(Path(f).name for f in info["files"])
        console.print(f"C library written to [bold]{out}[/] ({names})")
        budget = c_budget(out, profile=profile)
        write_budget(out, budget)
        console.print(format_budget(budget), soft_wrap=True, highlight=False)
        console.print(f"budget: {out / 'budget.json'}; build the example with `make -C {out}`")
    elif target == "micropython":
        from tinyhar.export.micropython import export_micropython, time_per_window

        info = export_micropython(run, out)
        console.print(f"MicroPython bundle written to [bold]{out}[/]")
        try:
            timing = time_per_window(out)
        except TinyharError as exc:
            timing = {"micropython_ms_per_window": None, "reason": str(exc)}
        budget = {**timing, "bundle_bytes": info.get("bundle_bytes")}
        write_text_atomic(out / "budget.json", json.dumps(budget, indent=2))
        console.print_json(json.dumps(budget))
    else:
        from tinyhar.training import export_network_onnx

        info = export_network_onnx(run, out)
        console.print(f"ONNX models written to [bold]{out}[/]")
        console.print_json(json.dumps(info, default=str))


def _network_windows(run: Path, dataset: str | None, path: str | None):
    from tinyhar.runfolder import load_run
    from tinyhar.training import load_data, make_window_set

    checked = load_run(run)
    pipeline = checked.pipeline
    if pipeline.extractor is not None:
        raise TinyharError(
            f"{run} holds a tree model; embeddings need a network run "
            "(tinyhar train --model cnn1d --out RUN)"
        )
    cfg = checked.config
    if dataset is not None:
        cfg.dataset.name, cfg.dataset.path = dataset, path
    windows, _ = make_window_set(load_data(cfg), cfg)
    return pipeline, pipeline.check_windows(windows)


@app.command()
@_friendly
def embed(
    run: Annotated[Path, typer.Argument(help="Network run folder (tinyhar train --model ...).")],
    out: Annotated[Path, typer.Option(help="Output Parquet file, one row per window.")],
    dataset: Annotated[str | None, typer.Option(help="Data set (default: the run's).")] = None,
    path: Annotated[str | None, typer.Option(help="File or folder of the data set.")] = None,
) -> None:
    """Write the network's penultimate-layer embedding of every window (Parquet)."""
    from tinyhar.models.nn.embeddings import embeddings_frame
    from tinyhar.runfolder import atomic_file

    pipeline, windows = _network_windows(run, dataset, path)
    frame = embeddings_frame(pipeline.model, windows)
    with atomic_file(out) as tmp:
        frame.to_parquet(tmp, index=False)
    console.print(f"{len(frame)} embeddings of size {frame.shape[1] - 3} written to {out}")


@app.command()
@_friendly
def explore(
    run: Annotated[Path, typer.Argument(help="Network run folder (tinyhar train --model ...).")],
    dataset: Annotated[str | None, typer.Option(help="Data set (default: the run's).")] = None,
    path: Annotated[str | None, typer.Option(help="File or folder of the data set.")] = None,
    method: Annotated[str, typer.Option(help="pca | tsne")] = "pca",
    out: Annotated[
        Path | None, typer.Option(help="Output PNG (default RUN/embedding_map_METHOD.png).")
    ] = None,
) -> None:
    """Draw a 2-D map of the embeddings coloured by class, to spot confusable classes."""
    from tinyhar.reporting.embedding_map import plot_embedding_map
    from tinyhar.runfolder import atomic_file

    pipeline, windows = _network_windows(run, dataset, path)
    out = out or run / f"embedding_map_{method}.png"
    with atomic_file(out) as tmp:
        plot_embedding_map(pipeline.model.embed(windows.X), windows.y, tmp, method=method)
    console.print(f"embedding map written to {out}")


@app.command()
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

    timeline = run_simulation(run, recording, session=session)
    table = Table(title=f"predictions, {len(timeline)} windows (MicroPython unix port)")
    table.add_column("t (s)", justify="right")
    table.add_column("class")
    table.add_column("probability", justify="right")
    for t, label, proba in timeline:
        table.add_row(f"{t:.2f}", label, f"{max(proba):.2f}" if proba else "")
    console.print(table)


@app.command()
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
) -> None:
    """Copy the MicroPython bundle to a board with mpremote."""
    from tinyhar.device.deploy import deploy as run_deploy

    info = run_deploy(run, port, compile=compile, autostart=autostart, outputs=outputs,
                      wifi=wifi)
    console.print(f"copied {len(info['files'])} files from {info['bundle']} to {info['port']}")
    if outputs or wifi:
        secrets = " (Wi-Fi/broker settings as tinyhar_secrets.json)" if wifi else ""
        console.print(f"outputs: {outputs or 'screen'}{secrets}")
    console.print("check it behaves: tinyhar device test --port " + port)


@app.command()
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

    live_command(console, serial=serial, simulate=simulate, recording=recording,
                 session=session, speed=speed, run=run, mqtt=mqtt, qos=qos, csv=csv,
                 parquet=parquet, web=web, web_host=web_host, web_port=web_port, view=view,
                 limit=limit, keep_serving=keep_serving)


device_app = typer.Typer(help="Work with a connected MicroPython board.", no_args_is_help=True)
app.add_typer(device_app, name="device")


@device_app.command("test")
@_friendly
def device_test(
    port: Annotated[str, typer.Option(help="Serial port of the board, e.g. /dev/ttyACM0.")],
    limit: Annotated[int | None, typer.Option(help="Test at most this many windows.")] = None,
) -> None:
    """Run the stored test windows on the board and print its accuracy."""
    from tinyhar.device.deploy import device_test as run_device_test

    r = run_device_test(port, limit=limit)
    console.print(
        f"on-device accuracy [bold]{r['accuracy']:.3f}[/] ({r['correct']}/{r['labelled']}), "
        f"agreement with the laptop {r['agreement']:.3f}, {r['ms_per_window']:.1f} ms per window"
    )


def main() -> None:  # pragma: no cover
    """Entry point for ``python -m tinyhar``."""
    app()

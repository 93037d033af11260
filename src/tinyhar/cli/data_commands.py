"""Commands on data: ``datasets``, ``inspect``, ``features``, ``recordings`` and ``label``.

Registered on :data:`tinyhar.cli.app` by :mod:`tinyhar.cli`; like every CLI module, this one
imports only typer, rich and tinyhar's import-free modules at module level (each command imports
what it needs), and prints through ``tinyhar.cli.console`` / ``tinyhar.cli.err_console``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from tinyhar import cli
from tinyhar.cli import _friendly
from tinyhar.errors import ConfigError


class _DatasetsGroup(TyperGroup):
    """``tinyhar datasets NAME`` stays short for ``tinyhar datasets describe NAME``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["describe", *args]
        return super().parse_args(ctx, args)


datasets_app = typer.Typer(
    cls=_DatasetsGroup,
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help=(
        "List, describe, scaffold and check data sets. Without a command: the list; "
        "'tinyhar datasets NAME' describes one. Your own recordings: 'datasets init FOLDER "
        "--out DEF.yaml' writes a dataset definition, 'datasets check DEF.yaml' validates it. "
        "The definition's keys are in the README (section 'Your own data'); an example is "
        "examples/my_data.yaml."
    ),
)


@datasets_app.callback()
def datasets(ctx: typer.Context) -> None:
    """List the data sets (without a command)."""
    if ctx.invoked_subcommand is None:
        datasets_list()


@datasets_app.command("list")
@_friendly
def datasets_list() -> None:
    """List the registered data sets."""
    from tinyhar.datasets.info import DATASETS

    table = Table(title="data sets (tinyhar datasets NAME describes one)")
    for col in ("name", "kind", "rate (Hz)", "description"):
        table.add_column(col)
    for key, info in DATASETS.items():
        table.add_row(key, str(info.kind), f"{info.sampling_rate_hz:g}", info.description)
    cli.console.print(table)
    cli.console.print(
        "Your own data: pass a YAML dataset definition path as the name; write one with "
        "tinyhar datasets init FOLDER --out DEF.yaml (schema: README, 'Your own data')."
    )


@datasets_app.command("describe")
@_friendly
def datasets_describe(
    name: Annotated[str, typer.Argument(help="A data set name or a definition (.yaml).")],
    path: Annotated[str | None, typer.Option(help="File or folder of the data set.")] = None,
) -> None:
    """Describe one data set (subjects, classes, hours per class)."""
    from tinyhar.datasets.registry import describe

    info = describe(name, path=path)
    cli.console.print(
        f"[bold]{info['name']}[/] ({info['kind']}), {info['sampling_rate_hz']:g} Hz, "
        f"channels {info['channels']}"
    )
    cli.console.print(f"{info['n_subjects']} subjects: {', '.join(map(str, info['subjects']))}")
    per_class = info.get("hours_per_class") or info.get("windows_per_class") or {}
    unit = "hours" if "hours_per_class" in info else "windows"
    table = Table()
    table.add_column("class")
    table.add_column(unit, justify="right")
    for c, v in per_class.items():
        table.add_row(str(c), f"{v:.2f}" if unit == "hours" else str(v))
    cli.console.print(table)
    _print_clock_spans(info)
    if info.get("citation"):
        cli.console.print(f"cite: {info['citation']}")
    if info.get("licence"):
        cli.console.print(f"licence: {info['licence']}")


def _print_clock_spans(info: dict) -> None:
    """The sessions' first and last clock times (``clock_spans``), when the data set has them."""
    spans = info.get("clock_spans")
    if not spans:
        return
    table = Table(title="clock time (UTC) per session")
    for col in ("session", "first sample", "last sample"):
        table.add_column(col)
    for session, (first, last) in spans.items():
        table.add_row(escape(session), first, last)
    cli.console.print(table)


@datasets_app.command("init")
@_friendly
def datasets_init(
    folder: Annotated[Path, typer.Argument(help="Folder of CSV, Parquet or NPY recordings.")],
    out: Annotated[Path, typer.Option(help="Dataset definition (.yaml) to write.")],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing definition.")
    ] = False,
) -> None:
    """Scaffold a dataset definition from a folder of recordings, printing every guess."""
    from tinyhar.datasets.scaffold import write_scaffold

    scaffold = write_scaffold(folder, out, overwrite=overwrite)
    table = Table(title=f"guesses from {len(scaffold.files)} file(s) in {folder}")
    for col in ("key", "guess", "how sure", "why"):
        table.add_column(col)
    colour = {"high": "green", "medium": "yellow", "low": "red"}
    for g in scaffold.guesses:
        table.add_row(g.key, str(g.value), f"[{colour[g.confidence]}]{g.confidence}[/]",
                      g.reason)
    cli.console.print(table)
    for problem in scaffold.problems:
        cli.err_console.print(f"[yellow]to fix:[/] {problem}")
    cli.console.print(f"definition written to [bold]{out}[/]; next: tinyhar datasets check {out}")


@datasets_app.command("check")
@_friendly
def datasets_check(
    definition: Annotated[Path, typer.Argument(help="Dataset definition (.yaml).")],
) -> None:
    """Load a dataset definition with all checks and summarise it."""
    from tinyhar.datasets.scaffold import check_definition

    info = check_definition(definition)
    cli.console.print(
        f"[bold]{info['name']}[/]: {info['sampling_rate_hz']:g} Hz, channels "
        f"{info['channels']}, {len(info['subjects'])} subject(s) "
        f"({', '.join(info['subjects'])}), {info['n_sessions']} session(s)"
    )
    table = Table(title="minutes per class")
    for col, justify in (("class", "left"), ("minutes", "right"), ("subjects", "right")):
        table.add_column(col, justify=justify)
    for c, minutes in info["minutes_per_class"].items():
        table.add_row(c, f"{minutes:.1f}", str(info["subjects_per_class"].get(c, "")))
    cli.console.print(table)
    _print_clock_spans(info)
    for message in info["warnings"]:
        cli.err_console.print(f"[yellow]warning:[/] {message}")
    cli.console.print(f"{definition}: OK" + (f", {len(info['warnings'])} warning(s)"
                                         if info["warnings"] else ""))


@datasets_app.command("synthesize")
@_friendly
def datasets_synthesize(
    out: Annotated[Path, typer.Option(help="Folder to write (data.yaml + recordings/).")],
    subjects: Annotated[int, typer.Option(min=1, help="Synthetic subjects.")] = 10,
    hours: Annotated[float, typer.Option(help="Hours per subject.")] = 1.0,
    rate: Annotated[float, typer.Option(help="Sampling rate: 50 or 100 Hz.")] = 50.0,
    seed: Annotated[int, typer.Option(help="Seed of the activity sequence.")] = 0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a folder written by this command.")
    ] = False,
) -> None:
    """Write large synthetic recordings made of real HAPT activity segments (for scale tests)."""
    from tinyhar.datasets.synthetic import synthesize

    summary = synthesize(out, subjects, hours, rate_hz=rate, seed=seed, overwrite=overwrite)
    cli.console.print(
        f"{summary.n_subjects} subjects, {summary.hours:g} h at {summary.rate_hz:g} Hz "
        f"({summary.samples:,} samples per channel) in {summary.n_sessions} session files; "
        f"train with `tinyhar train --dataset {summary.definition}`"
    )


@_friendly
def inspect(
    dataset: Annotated[str, typer.Argument(
        help="A data set name (hapt), a dataset definition (.yaml) or a Parquet file.")],
    out: Annotated[Path, typer.Option(help="Report folder (report.md and PNGs).")] = Path(
        "report"),
    path: Annotated[str | None, typer.Option(help="File or folder of a named data set.")
    ] = None,
    window: Annotated[float | None, typer.Option(
        help="Window length in s (default: the training default).")] = None,
    hop: Annotated[float | None, typer.Option(help="Hop in s (default: the training default).")
    ] = None,
) -> None:
    """Write a data-quality report: timelines, minutes per class, timing, units, advice."""
    from tinyhar.reporting.inspect import REPORT_FILE, inspect_dataset

    report = inspect_dataset(dataset, out, path=path, window=window, hop=hop)
    cli.console.print(f"[bold]{report.name}[/]: {len(report.sessions)} recording(s), "
                  f"{report.minutes.shape[1]} subject(s); windows per class: "
                  + ", ".join(f"{c} {n}" for c, n in report.windows_per_class.items()))
    for finding in report.findings:
        cli.err_console.print(f"[yellow]finding:[/] {escape(finding)}")
    for line in report.advice:
        cli.console.print(f"advice: {escape(line)}")
    cli.console.print(f"report written to [bold]{out / REPORT_FILE}[/]")



@_friendly
def features(
    feature_set: Annotated[
        str, typer.Option("--set", help="default | light | minimal | full | invariant")
    ] = "default",
    sensors: Annotated[str, typer.Option(help="acc | acc+gyro")] = "acc+gyro",
    sampling_rate_hz: Annotated[float, typer.Option(help="Sampling rate in Hz.")] = 50.0,
) -> None:
    """List every feature with its unit and a one-line definition."""
    from tinyhar.datasets.recording import ACC_CHANNELS, GYRO_CHANNELS
    from tinyhar.errors import ConfigError
    from tinyhar.features import feature_catalog

    if sensors not in ("acc", "acc+gyro"):
        raise ConfigError(f"--sensors must be 'acc' or 'acc+gyro', got {sensors!r}")
    channels = ACC_CHANNELS + (GYRO_CHANNELS if sensors == "acc+gyro" else ())
    catalog = feature_catalog(
        channels=channels, feature_set=feature_set, sampling_rate_hz=sampling_rate_hz
    )
    table = Table(title=f"{len(catalog)} features ({feature_set} set, {sensors})")
    for col in ("name", "unit", "group", "definition", "source"):
        table.add_column(col, overflow="fold")
    for f in catalog:
        table.add_row(f.name, f.unit, f.group, f.definition, f.source)
    cli.console.print(table)



recordings_app = typer.Typer(
    help=(
        "Bring your own recordings into a recordings folder (canonical Parquet files plus a "
        "dataset definition data.yaml that 'tinyhar train --dataset FOLDER/data.yaml' reads)."
    ),
    no_args_is_help=True,
)


@recordings_app.command("import")
@_friendly
def recordings_import(
    export: Annotated[Path, typer.Argument(
        help="A phyphox or Sensor Logger CSV export (.zip or its folder), or a CSV file.")],
    to: Annotated[Path, typer.Option(help="Recordings folder (created if needed).")],
    subject: Annotated[str, typer.Option(help="Subject id of the recording.")] = "1",
    label: Annotated[str | None, typer.Option(
        help="Activity of the whole recording (default: unlabelled).")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace a recording imported before under the same name.")] = False,
) -> None:
    """Convert a phone-app export to a canonical recording and update FOLDER/data.yaml."""
    from tinyhar.datasets.phone import import_recording

    res = import_recording(export, to, subject=subject, label=label, overwrite=overwrite)
    rates = ", ".join(f"{Path(k.split(': ')[-1]).name} {v:.4g} Hz"
                      for k, v in res.measured_hz.items())
    cli.console.print(
        f"{res.app} export: measured {rates}; stored {res.n_samples} samples at "
        f"{res.sampling_rate_hz:g} Hz ({res.n_samples / res.sampling_rate_hz:.1f} s)"
        + (", gravity added to the gravity-free acceleration" if res.gravity_added else "")
    )
    cli.console.print(f"written [bold]{res.path}[/]; definition [bold]{res.definition}[/] "
                  f"(next: tinyhar train --dataset {res.definition})")


@recordings_app.command("pull")
@_friendly
def recordings_pull(
    to: Annotated[Path, typer.Option(help="Recordings folder (created if needed).")],
    port: Annotated[str | None, typer.Option(
        help="Serial port of the board running the recording app, e.g. /dev/ttyACM0.")] = None,
    from_folder: Annotated[Path | None, typer.Option(
        help="Pull from this folder instead (a board mounted as a drive, files copied by "
        "hand).")] = None,
    subject: Annotated[str, typer.Option(help="Subject id of who wore the board.")] = "1",
    delete: Annotated[bool, typer.Option(
        "--delete", help="Delete pulled recordings on the board once their copies are "
        "verified.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Pull recordings pulled before again, replacing local files.")
    ] = False,
    board_folder: Annotated[str, typer.Option(help="The recording app's folder on the board.")
    ] = "rec",
) -> None:
    """Copy new recordings off a board (verified by size and SHA-256) and convert them.

    Exit status 1 when a recording could not be pulled (each is named with what to do).
    """
    from tinyhar.device.pull import FolderSource, MpremoteSource, pull

    if (port is None) == (from_folder is None):
        raise ConfigError("give either --port (a board) or --from-folder (a folder of the "
                          "board's files)")
    source = (MpremoteSource(port, board_folder) if port is not None
              else FolderSource(from_folder))
    res = pull(source, to, subject=subject, delete=delete, overwrite=overwrite)
    for p in res.pulled:
        cli.console.print(f"pulled {p.name} -> {p.path} ({p.label or 'unlabelled'}, "
                      f"{p.n_samples} samples, {p.n_samples / p.sampling_rate_hz:.1f} s)")
        for note in p.notes:
            cli.err_console.print(f"[yellow]note:[/] {escape(note)}")
    if res.already:
        cli.console.print(f"{len(res.already)} recording(s) pulled before, left as they are")
    for message in res.skipped:
        cli.err_console.print(f"[yellow]not pulled:[/] {escape(message)}")
    if res.deleted:
        cli.console.print(f"deleted on the board: {', '.join(res.deleted)}")
    if res.definition is not None:
        cli.console.print(f"definition [bold]{res.definition}[/] (next: tinyhar inspect "
                      f"{res.definition})")
    if res.skipped:
        raise typer.Exit(1)



label_app = typer.Typer(
    help=(
        "Label recordings: a ready Label Studio project (export), its JSON export back into "
        "the recordings (import), or time spans typed by hand (quick)."
    ),
    no_args_is_help=True,
)


def _print_span_reports(res) -> None:
    for session, report in res.sessions.items():
        cli.console.print(f"{escape(session)}: {report.labelled} samples labelled")
        for line in report.lines():
            cli.console.print(f"  [yellow]{escape(line)}[/]")
    for note in res.notes:
        cli.console.print(escape(note))
    for path in res.files:
        cli.console.print(f"written [bold]{escape(str(path))}[/]")
    if not res.files:
        cli.console.print("no recording changed")


@label_app.command("export")
@_friendly
def label_export(
    source: Annotated[str, typer.Argument(
        help="Dataset definition (.yaml), tinyhar .parquet, or data set name.")],
    to: Annotated[Path, typer.Option(help="Project folder to write.")],
    classes: Annotated[str | None, typer.Option(
        help="Comma-separated classes to add to the data set's (e.g. walk,run,rest).")] = None,
    prelabel: Annotated[Path | None, typer.Option(
        help="Run folder: its smoothed predictions become Label Studio predictions.")] = None,
    suggest_boundaries: Annotated[bool, typer.Option(
        "--suggest-boundaries", help="Pre-annotate change-point segments (needs ruptures).")
    ] = False,
    video: Annotated[Path | None, typer.Option(
        help="Folder of videos named like the recordings (<session>.mp4), shown in sync.")
    ] = None,
    video_offset: Annotated[float, typer.Option(
        help="Recording time (s) at the video's first frame; negative if the camera started "
        "first (VIDEO/offsets.csv with video,offset_s sets it per video).")] = 0.0,
    video_fps: Annotated[float, typer.Option(help="Frame rate of the videos.")] = 30.0,
    inline: Annotated[bool, typer.Option(
        "--inline", help="Put the signals into tasks.json (no local-files serving needed).")
    ] = False,
    path: Annotated[str | None, typer.Option(help="File or folder of a named data set.")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace an earlier label export in --to.")] = False,
) -> None:
    """Write a Label Studio project: config.xml, tasks.json, one CSV per recording."""
    from tinyhar.labelling import TASKS_FILE, export_project

    res = export_project(
        source, to, classes=classes.split(",") if classes else None, prelabel=prelabel,
        suggest=suggest_boundaries, video=video, video_offset_s=video_offset,
        video_fps=video_fps, inline=inline, path=path, overwrite=overwrite)
    extras = [f"{res.n_predicted} with model predictions" if prelabel else "",
              f"{res.n_suggested} suggested segments" if suggest_boundaries else "",
              f"{res.n_videos} with video" if video else ""]
    extra = "; ".join(e for e in extras if e)
    cli.console.print(
        f"{res.n_tasks} tasks, classes {escape(', '.join(res.classes))}"
        + (f" ({extra})" if extra else "")
    )
    cli.console.print(f"written [bold]{escape(str(res.folder))}[/]: import "
                  f"{escape(str(res.folder / TASKS_FILE))} into Label Studio (see README.md "
                  "there)")


@label_app.command("import")
@_friendly
def label_import(
    export: Annotated[Path, typer.Argument(help="Label Studio's JSON export (Export > JSON).")],
    into: Annotated[Path, typer.Option(help="Folder of the recordings (.parquet) to label.")],
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace labels the recordings already have.")] = False,
) -> None:
    """Write Label Studio annotations into the recordings' label column."""
    from tinyhar.labelling import import_annotations

    res = import_annotations(export, into, overwrite=overwrite)
    if res.not_annotated:
        cli.console.print(f"[yellow]not annotated (left as they were): "
                      f"{escape(', '.join(res.not_annotated))}[/]")
    _print_span_reports(res)


@label_app.command("quick")
@_friendly
def label_quick(
    recording: Annotated[Path, typer.Argument(help="A tinyhar recording (.parquet).")],
    spans: Annotated[Path, typer.Option(
        help="CSV with columns start,end,class (s; plus session for several sessions).")],
    new_classes: Annotated[bool, typer.Option(
        "--new-classes", help="Allow classes the recording does not list yet.")] = False,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace labels the recording already has.")] = False,
) -> None:
    """Label a recording from time spans typed by hand."""
    from tinyhar.labelling import label_from_spans_file

    _print_span_reports(label_from_spans_file(recording, spans, overwrite=overwrite,
                                              new_classes=new_classes))


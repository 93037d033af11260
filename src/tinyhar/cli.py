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
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from tinyhar.errors import ConfigError, TinyharError
from tinyhar.models.kinds import KINDS, TREE_KINDS  # names only, imports nothing

# The CLI imports only typer, rich and tinyhar's import-free modules (errors, model kinds) at
# module level, so that ``tinyhar --help`` starts fast (benchmarks/startup.py); each command
# imports what it needs. tests/test_cli.py keeps this
# list equal to tinyhar.models.nn.presets.PRESETS, which imports pydantic and the config.
PRESET_NAMES = ("wisdm-bilstm", "ucihar-lstm", "small-cnn", "ucihar-cnn", "tiny-cnn")
"""Names of the network presets, shown in ``tinyhar train --help``."""

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
            err_console.print(f"[yellow]warning:[/] {escape(str(message))}")

        from tinyhar import interrupts

        interrupts.install()
        old = warnings.showwarning
        warnings.showwarning = show
        try:
            return func(*args, **kwargs)
        except TinyharError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        finally:
            warnings.showwarning = old

    return wrapper


@app.command()
@_friendly
def train(
    out: Annotated[str, typer.Option(help="Run folder to write.")] = "runs/first",
    config: Annotated[
        Path | None,
        typer.Option(
            help="YAML configuration (see tinyhar.config); its relative paths are relative "
            "to its folder."
        ),
    ] = None,
    dataset: Annotated[str | None, typer.Option(help="Override dataset.name.")] = None,
    path: Annotated[str | None, typer.Option(help="Override dataset.path.")] = None,
    sensors: Annotated[str | None, typer.Option(help="Override: acc | acc+gyro | all.")] = None,
    model: Annotated[
        str | None,
        typer.Option(help=" | ".join(KINDS) + "."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="Network recipe: " + " | ".join(PRESET_NAMES) + "."),
    ] = None,
    n_estimators: Annotated[int | None, typer.Option(help="Override the number of trees.")] = None,
    max_depth: Annotated[int | None, typer.Option(help="Override the tree depth.")] = None,
    epochs: Annotated[
        int | None,
        typer.Option(min=1, help="Networks: override model.params.epochs (training passes)."),
    ] = None,
    protocol: Annotated[
        str | None,
        typer.Option(help="Override: holdout (by subject) | random (leaks subjects, warns)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Override the seed.")] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Override compute.scheduler: serial | threads | processes | "
                     "tcp://host:8786 (a Dask cluster); reads dataset definitions session "
                     "by session."),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY.PATH=VALUE",
            help="Override any configuration key, e.g. --set windows.hop=1.0 or "
            "--set model.params.lr=0.001 (value read as YAML; repeatable; applied last).",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing run folder (atomically).")
    ] = False,
) -> None:
    """Train on a data set (default: the bundled HAPT copy) and write a run folder.

    Settings are taken from the defaults, then --config, then --dataset, --path and
    --sensors, then --preset, then the other options, then each --set in order.
    """
    from tinyhar.config import (
        apply_override,
        make_config,
        read_config_file,
        set_key,
    )
    from tinyhar.training import apply_preset
    from tinyhar.training import train as run_train

    data = read_config_file(config) if config else {}
    data_options = {"dataset.name": dataset, "dataset.path": path, "dataset.sensors": sensors}
    other_options = {
        "model.kind": model,
        "model.n_estimators": n_estimators,
        "model.max_depth": max_depth,
        "model.params.epochs": epochs,
        "evaluation.protocol": protocol,
        "seed": seed,
        "compute.scheduler": scheduler,
    }
    for key, value in data_options.items():
        if value is not None:
            data = set_key(data, key, value)
    if preset is not None:  # after the data options: the preset's split depends on the data
        data = apply_preset(data, preset)
    for key, value in other_options.items():
        if value is not None:
            data = set_key(data, key, value)
    for assignment in set_ or []:
        data = apply_override(data, assignment)
    model_section = data.get("model") if isinstance(data.get("model"), dict) else {}
    kind = model_section.get("kind", "random_forest")
    if epochs is not None and kind in TREE_KINDS:
        raise ConfigError(
            f"--epochs applies to networks, but the model is {kind!r} (trees train in one "
            "pass); drop --epochs or choose a network with --model or --preset"
        )
    options = [*data_options.values(), *other_options.values(), preset, set_ or None]
    sources = [str(config)] if config else []
    if any(v is not None for v in options):
        sources.append("command line")
    cfg = make_config(data, " + ".join(sources) or "defaults")
    metrics = run_train(cfg, out, console, overwrite=overwrite)
    _print_metrics(metrics)
    console.print(f"run folder: [bold]{out}[/] (summary.md, metrics.json, figures)")


def _print_metrics(m: dict) -> None:
    """Print a run's or an evaluation's scores: per class, overall, per subject, CV, warnings."""
    from tinyhar.reporting.text import absent_classes_message, name_subjects, plural

    table = Table(title=f"{m['dataset']} -- {m.get('protocol', 'evaluation')}")
    table.add_column("class")
    for col in ("precision", "recall", "F1", "windows"):
        table.add_column(col, justify="right")
    scored = set(m.get("scored_classes") or m["per_class"])
    for c, s in m["per_class"].items():
        if c not in scored:
            table.add_row(c, "absent", "absent", "absent", "0")
            continue
        table.add_row(
            c, f"{s['precision']:.3f}", f"{s['recall']:.3f}", f"{s['f1']:.3f}", str(s["support"])
        )
    console.print(table)
    line = (
        f"accuracy [bold]{m['accuracy']:.3f}[/]  balanced accuracy "
        f"{m['balanced_accuracy']:.3f}  macro-F1 [bold]{m['macro_f1']:.3f}[/]"
    )
    if "params" in m:
        line += (
            f"  model: {plural(m['params'], 'parameter')}, "
            f"{plural(m['macs'], 'MAC')} per window"
        )
    elif "model_size" in m:
        s = m["model_size"]
        line += (
            f"  model: {plural(s['trees'], 'tree')}, {plural(s['nodes'], 'node')}, "
            f"{plural(s['bytes'], 'byte')}"
        )
    console.print(line)
    per_subject = m.get("per_subject") or {}
    if per_subject:
        f1 = {k: v["macro_f1"] for k, v in per_subject.items()}
        worst = min(f1, key=f1.get)
        best = max(f1, key=f1.get)
        text = f"per subject ({plural(len(f1), 'subject')}): macro-F1 "
        if len(f1) == 1:
            text += f"{f1[worst]:.3f} (subject {worst})"
        else:
            text += (
                f"from {f1[worst]:.3f} (subject {worst}) to {f1[best]:.3f} (subject {best}), "
                f"mean {sum(f1.values()) / len(f1):.3f}"
            )
        console.print(text)
    cv = m.get("cross_validation")
    if cv:
        where = "all subjects" if cv.get("scope") == "all subjects" else "training subjects"
        text = (
            f"leave-subjects-out CV on {where} ({plural(cv['n_folds'], 'fold')}): "
            f"macro-F1 {cv['macro_f1_mean']:.3f} ± {cv['macro_f1_std']:.3f}"
        )
        if cv.get("pooled"):
            text += f", pooled {cv['pooled']['macro_f1']:.3f}"
        console.print(text)
        if where == "all subjects":
            console.print(
                "the saved model is fitted on all subjects: its expected score is this CV score"
            )
    if m.get("excluded_training_subjects"):
        ex = m["excluded_training_subjects"]
        console.print(
            f"left out as training subjects of the run: {plural(len(ex), 'subject')} "
            f"({name_subjects(ex)})"
        )
    if m.get("includes_training_subjects"):
        err_console.print(
            f"[yellow]warning:[/] includes {plural(len(m['training_subjects_scored']), 'subject')}"
            f" the run was trained on ({name_subjects(m['training_subjects_scored'])}): "
            "inflated, not subject-independent"
        )
    absent = absent_classes_message(m)
    if absent:
        err_console.print(f"[yellow]warning:[/] {absent}")
    pp = (m.get("postprocess") or {}).get("test_streams")
    if pp:
        raw, smooth = pp["raw"], pp["smoothed"]
        console.print(
            f"post-processing {pp['postprocess']} ({m['postprocess']['chosen_by']}); test "
            f"subjects' whole recordings: macro-F1 {raw['macro_f1']:.3f} -> "
            f"{smooth['macro_f1']:.3f}, over-segmentation {raw['oversegmentation']:.2f} -> "
            f"{smooth['oversegmentation']:.2f}"
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
    include_training_subjects: Annotated[
        bool,
        typer.Option(
            "--include-training-subjects",
            help="Also score subjects the run was trained on (inflated; warns).",
        ),
    ] = False,
    out: Annotated[
        str | None,
        typer.Option(
            help="Folder for metrics.json, summary.md, confusion_matrix.png and "
            "per_subject.png (with --continuous: continuous.json and timeline_<subject>.png; "
            "default: print only)."
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print metrics as JSON.")] = False,
    continuous: Annotated[
        bool,
        typer.Option(
            "--continuous",
            help="Score whole recordings (every window, in time order) before and after the "
            "run's post-processing: per-window and segment scores.",
        ),
    ] = False,
) -> None:
    """Score a trained run on a data set, subject-independently.

    Subjects the run was trained on are left out (same data set or the same
    people, e.g. HAPT and UCI HAR), so `evaluate RUN --dataset <its data set>`
    reproduces the run's held-out test score. With --continuous, whole
    recordings are scored instead of pure windows.
    """
    from tinyhar.evaluate import check_evaluation_out, evaluate_run, write_evaluation
    from tinyhar.runfolder import load_run

    if out is not None:
        check_evaluation_out(out)
    subj = [s.strip() for s in subjects.split(",") if s.strip()] if subjects else None
    run = load_run(run)  # checked once; the evaluation takes the Run
    if continuous:
        _evaluate_continuous(run, dataset, path, subj, include_training_subjects, out, json_out)
        return
    metrics = evaluate_run(
        run,
        dataset,
        path,
        subj,
        err_console if json_out else console,
        include_training_subjects=include_training_subjects,
    )
    if out is not None:
        write_evaluation(metrics, out)
    if json_out:
        print(json.dumps(metrics, indent=2))
    else:
        from tinyhar.reporting.text import name_subjects

        _print_metrics({**metrics, "protocol": f"subjects {name_subjects(metrics['subjects'])}"})
    if out is not None:
        (err_console if json_out else console).print(
            f"evaluation written to [bold]{out}[/] (metrics.json, summary.md, figures)"
        )


CONTINUOUS_ROWS = (
    ("accuracy (per window)", "accuracy", "{:.3f}"),
    ("macro-F1 (per window)", "macro_f1", "{:.3f}"),
    ("Cohen's kappa", "kappa", "{:.3f}"),
    ("segment F1 (IoU >= 0.5)", "segment_f1", "{:.3f}"),
    ("over-segmentation", "oversegmentation", "{:.2f}"),
    ("edit score", "edit_score", "{:.1f}"),
    ("median delay (s)", "median_delay_s", "{:.2f}"),
    ("predicted segments", "n_pred_segments", "{}"),
)


def _print_continuous(m: dict, title: str) -> None:
    """Print continuous scores before and after post-processing (see streams.stream_scores)."""
    from tinyhar.reporting.text import plural

    table = Table(title=title)
    table.add_column("")
    table.add_column("raw", justify="right")
    table.add_column(m["postprocess"], justify="right")
    for label, key, fmt in CONTINUOUS_ROWS:
        a, b = m["raw"].get(key), m["smoothed"].get(key)
        table.add_row(label, *("-" if v is None else fmt.format(v) for v in (a, b)))
    table.add_row("true segments", str(m["raw"]["n_true_segments"]), "")
    console.print(table)
    excluded = ", ".join(f"{k} {v}" for k, v in m["excluded"].items()) or "none"
    console.print(
        f"{plural(m['n_windows'], 'window')} of {m['window_s']:g} s every {m['hop_s']:g} s in "
        f"{plural(m['n_sessions'], 'session')}; scored {m['raw']['n_scored']}, not scored "
        f"(label): {excluded}; invalid input: {m['n_invalid']}"
    )
    unknown = m.get("unknown_by_label") or {}
    if unknown:
        console.print("unknown activity (rejected before smoothing / unknown after): " + "; ".join(
            f"{k} {v['rejected']:.1%} / {v['unknown_smoothed']:.1%} of {v['n']}"
            for k, v in unknown.items()
        ))


def _evaluate_continuous(run, dataset, path, subj, include_training_subjects, out, json_out):
    """``evaluate --continuous``: whole recordings, before and after post-processing."""
    from tinyhar.evaluate import evaluate_continuous
    from tinyhar.reporting.text import name_subjects, subject_list
    from tinyhar.runfolder import write_text_atomic

    metrics = evaluate_continuous(
        run, dataset, path, subj, err_console if json_out else console,
        include_training_subjects=include_training_subjects, figures_dir=out,
    )
    if out is not None:
        write_text_atomic(Path(out) / "continuous.json", json.dumps(metrics, indent=2) + "\n")
    if json_out:
        print(json.dumps(metrics, indent=2))
        return
    _print_continuous(
        metrics, f"{metrics['dataset']}, whole recordings of {subject_list(metrics['subjects'])}"
    )
    if metrics.get("excluded_training_subjects"):
        console.print(
            f"left out as training subjects of the run: "
            f"{name_subjects(metrics['excluded_training_subjects'])}"
        )
    if out is not None:
        console.print(
            f"written to [bold]{out}[/]: continuous.json, {', '.join(metrics['figures'])}"
        )


@app.command()
@_friendly
def predict(
    run: Annotated[Path, typer.Argument(help="Run folder written by `tinyhar train`.")],
    recording: Annotated[
        str | None,
        typer.Argument(help="Recording: a tinyhar .parquet or a .yaml dataset definition."),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="A data set name instead of a file, e.g. hapt-raw.")
    ] = None,
    path: Annotated[str | None, typer.Option(help="File or folder of the data set.")] = None,
    subject: Annotated[
        str | None, typer.Option(help="Comma-separated subject ids to predict (default: all).")
    ] = None,
    out: Annotated[
        Path, typer.Option(help="New folder for windows.parquet, segments.csv, timeline.png.")
    ] = Path("predictions"),
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an earlier predictions folder.")
    ] = False,
) -> None:
    """Predict a recording: per-window probabilities, smoothed timeline, segments, figure.

    Every window is classified (window and hop as trained) and smoothed with
    the run's post-processing; long recordings are processed in chunks.
    """
    from tinyhar.predict import predict_recordings

    subjects = [s.strip() for s in subject.split(",") if s.strip()] if subject else None
    info = predict_recordings(
        run, out, recording=recording, dataset=dataset, path=path, subjects=subjects,
        overwrite=overwrite, console=console,
    )
    console.print(
        f"{info['n_windows']} windows in {info['n_sessions']} session(s): "
        f"{info['raw_changes']} class changes raw, {info['smoothed_changes']} after "
        f"{info['postprocess']}; {info['n_segments']} segments; invalid input: "
        f"{info['n_invalid']}"
        + (f"; unknown activity: {info['n_rejected']} windows rejected, "
           f"{info['n_unknown']} unknown after smoothing" if "reject(" in info["postprocess"]
           else "")
    )
    console.print(
        f"predictions written to [bold]{out}[/] (windows.parquet, segments.csv, timeline.png)"
    )


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
app.add_typer(datasets_app, name="datasets")


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
    console.print(table)
    console.print(
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
    from tinyhar.datasets.registry import describe_dataset, load_dataset

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
    console.print(table)
    for problem in scaffold.problems:
        err_console.print(f"[yellow]to fix:[/] {problem}")
    console.print(f"definition written to [bold]{out}[/]; next: tinyhar datasets check {out}")


@datasets_app.command("check")
@_friendly
def datasets_check(
    definition: Annotated[Path, typer.Argument(help="Dataset definition (.yaml).")],
) -> None:
    """Load a dataset definition with all checks and summarise it."""
    from tinyhar.datasets.scaffold import check_definition

    info = check_definition(definition)
    console.print(
        f"[bold]{info['name']}[/]: {info['sampling_rate_hz']:g} Hz, channels "
        f"{info['channels']}, {len(info['subjects'])} subject(s) "
        f"({', '.join(info['subjects'])}), {info['n_sessions']} session(s)"
    )
    table = Table(title="minutes per class")
    for col, justify in (("class", "left"), ("minutes", "right"), ("subjects", "right")):
        table.add_column(col, justify=justify)
    for c, minutes in info["minutes_per_class"].items():
        table.add_row(c, f"{minutes:.1f}", str(info["subjects_per_class"].get(c, "")))
    console.print(table)
    for message in info["warnings"]:
        err_console.print(f"[yellow]warning:[/] {message}")
    console.print(f"{definition}: OK" + (f", {len(info['warnings'])} warning(s)"
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
    console.print(
        f"{summary.n_subjects} subjects, {summary.hours:g} h at {summary.rate_hz:g} Hz "
        f"({summary.samples:,} samples per channel) in {summary.n_sessions} session files; "
        f"train with `tinyhar train --dataset {summary.definition}`"
    )


@app.command()
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
    console.print(f"[bold]{report.name}[/]: {len(report.sessions)} recording(s), "
                  f"{report.minutes.shape[1]} subject(s); windows per class: "
                  + ", ".join(f"{c} {n}" for c, n in report.windows_per_class.items()))
    for finding in report.findings:
        err_console.print(f"[yellow]finding:[/] {escape(finding)}")
    for line in report.advice:
        console.print(f"advice: {escape(line)}")
    console.print(f"report written to [bold]{out / REPORT_FILE}[/]")


@app.command()
@_friendly
def robustness(
    run: Annotated[Path, typer.Argument(help="Run folder written by `tinyhar train`.")],
    dataset: Annotated[
        str | None, typer.Option(help="Data set name or definition file (default: the run's).")
    ] = None,
    path: Annotated[str | None, typer.Option(help="File or folder of the data set.")] = None,
    subjects: Annotated[
        str | None, typer.Option(help="Comma-separated subject ids to score.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random rotations and the noise.")] = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for robustness.json and robustness.png (default: RUN/robustness)."
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """Can you trick this model? Score a run on its unseen test subjects under perturbations.

    Rotations of the sensor frame (0, 20, 45, 90, 180 degrees about x, y, z and
    random), gain and offset errors, a 10 % sampling-rate mismatch, noise,
    axis swaps and sign flips; writes a table, robustness.json and a figure.
    """
    from tinyhar.evaluation.perturb import row_label
    from tinyhar.robustness import ROBUSTNESS_DIR, robustness_scores, write_robustness

    subj = [s.strip() for s in subjects.split(",") if s.strip()] if subjects else None
    shown = err_console if json_out else console
    result = robustness_scores(run, dataset, path, subj, seed, shown)
    written = write_robustness(result, out if out is not None else Path(run) / ROBUSTNESS_DIR)
    if json_out:
        print(json.dumps(result["rows"], indent=2))
    else:
        from tinyhar.reporting.text import subject_list

        table = Table(
            title=f"{result['dataset']}, {subject_list(result['subjects'])}: "
            f"{result['n_windows']} windows"
        )
        for name in ("perturbation", "macro-F1", "accuracy", "worst class (F1)"):
            table.add_column(name, justify="left" if name == "perturbation" else "right")
        for r in result["rows"]:
            worst = min(r["per_class_f1"], key=r["per_class_f1"].get)
            table.add_row(
                row_label(r), f"{r['macro_f1']:.3f}", f"{r['accuracy']:.3f}",
                f"{worst} ({r['per_class_f1'][worst]:.2f})",
            )
        console.print(table)
    shown.print(f"written: {', '.join(str(p) for p in written)}")


@app.command("learning-curve")
@_friendly
def learning_curve_cmd(
    dataset: Annotated[
        str | None, typer.Option(help="Data set name or definition (.yaml).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="YAML configuration (windows, features, model).")
    ] = None,
    path: Annotated[str | None, typer.Option(help="Override dataset.path.")] = None,
    out: Annotated[Path, typer.Option(help="Folder to write.")] = Path("runs/learning-curve"),
    subjects: Annotated[
        str | None, typer.Option(help="Training-subject counts, e.g. 1,2,4,8 (default: 1..all).")
    ] = None,
    fractions: Annotated[
        str, typer.Option(help="Shares of each class's minutes to keep.")
    ] = "0.1,0.25,0.5,1",
    repeats: Annotated[int, typer.Option(help="Repeats with other test subjects.")] = 3,
    seed: Annotated[int | None, typer.Option(help="Override the seed.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace --out.")] = False,
) -> None:
    """Macro-F1 against training subjects and minutes per class: how much data is enough."""
    from tinyhar.config import TrainConfig, load_config, make_config
    from tinyhar.errors import ConfigError
    from tinyhar.learning_curve import run_learning_curve

    cfg = load_config(config) if config else TrainConfig()
    data = cfg.model_dump(mode="json")
    for key, value in (("name", dataset), ("path", path)):
        if value is not None:
            data["dataset"][key] = value
    if seed is not None:
        data["seed"] = seed
    cfg = make_config(data, "command line")

    def numbers(text: str, kind, option: str) -> list:
        try:
            return [kind(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise ConfigError(
                f"{option}: expected numbers separated by commas, got {text!r}"
            ) from None

    counts = numbers(subjects, int, "--subjects") if subjects else None
    shares = tuple(numbers(fractions, float, "--fractions"))
    result = run_learning_curve(cfg, out, counts=counts, fractions=shares, repeats=repeats,
                                console=console, overwrite=overwrite)
    for title, rows, key in (("training subjects", result["subjects"], "n_subjects"),
                             ("minutes per class", result["minutes"], "minutes_per_class")):
        table = Table(title=f"macro-F1 against {title}")
        table.add_column(title, justify="right")
        table.add_column("macro-F1 (mean ± std)", justify="right")
        for row in rows:
            x = row[key]
            table.add_row(f"{x:.1f}" if isinstance(x, float) else str(x),
                          f"{row['macro_f1_mean']:.3f} ± {row['macro_f1_std']:.3f}")
        console.print(table)
    console.print(f"advice: {result['advice']}")
    console.print(f"written to [bold]{out}[/] (learning_curve.json, .md, .png)")


@app.command()
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
    from tinyhar.errors import ConfigError
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
        console.print(f"C library written to [bold]{out}[/] ({names})")
        budget = c_budget(out, profile=profile)
        write_budget(out, budget)
        console.print(format_budget(budget), soft_wrap=True, highlight=False)
        console.print(f"budget: {out / 'budget.json'}; build the example with `make -C {out}`")
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
        console.print(f"MicroPython bundle written to [bold]{out}[/] "
                      f"({info['bundle_bytes'] / 1000:.0f} kB for the board, "
                      f"{info['n_test_windows']} test windows, mounting {info['mounting']})")
        try:
            timing = time_per_window(out)
        except TinyharError as exc:
            timing = {"micropython_ms_per_window": None, "reason": str(exc)}
        budget = {**timing, "bundle_bytes": info.get("bundle_bytes")}
        write_text_atomic(out / "budget.json", json.dumps(budget, indent=2))
        console.print_json(json.dumps(budget))
    else:
        from tinyhar.export.onnx import export_network_onnx

        info = export_network_onnx(loaded, out)
        console.print(f"ONNX models written to [bold]{out}[/]")
        console.print_json(json.dumps(info, default=str))
    if check and target in ("c", "micropython"):
        from tinyhar.export.check import check_export, format_check

        result = check_export(loaded, target, out)
        color = {"ok": "green", "failed": "red", "skipped": "yellow"}[result["status"]]
        console.print(f"[{color}]{format_check(result)}[/]", soft_wrap=True, highlight=False)
        if result["status"] == "failed":
            raise typer.Exit(1)


def _network_windows(run: Path, dataset: str | None, path: str | None):
    from tinyhar.runfolder import load_run
    from tinyhar.windows.source import load_data, make_window_set

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
        plot_embedding_map(pipeline.model.embed(windows.X), windows.y, tmp, method=method,
                           classes=pipeline.classes)
    console.print(f"embedding map written to {out}")


def _run_or_bundle(folder: Path):
    """A run folder as a loaded :class:`~tinyhar.runfolder.Run`; any other folder as it is."""
    from tinyhar.runfolder import MANIFEST_FILE, load_run

    return load_run(folder) if (folder / MANIFEST_FILE).is_file() else folder


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

    timeline = run_simulation(_run_or_bundle(run), recording, session=session)
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
        console.print(f"mounting {spec}: stand still for the app's first 3 s to check it")

    info = run_deploy(_run_or_bundle(run), port, compile=compile, autostart=autostart,
                      outputs=outputs, wifi=wifi, app=app, classes=classes)
    console.print(f"copied {len(info['files'])} files from {info['bundle']} to {info['port']}")
    for package in info.get("installed", ()):
        console.print(f"installed {package} (micropython-lib) with mpremote mip")
    if app == "record":
        console.print("recording app: start it with `import app_record; app_record.main()` "
                      "(or deploy with --autostart); then tinyhar recordings pull --port "
                      f"{port} --to mydata/")
        return
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


recordings_app = typer.Typer(
    help=(
        "Bring your own recordings into a recordings folder (canonical Parquet files plus a "
        "dataset definition data.yaml that 'tinyhar train --dataset FOLDER/data.yaml' reads)."
    ),
    no_args_is_help=True,
)
app.add_typer(recordings_app, name="recordings")


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
    console.print(
        f"{res.app} export: measured {rates}; stored {res.n_samples} samples at "
        f"{res.sampling_rate_hz:g} Hz ({res.n_samples / res.sampling_rate_hz:.1f} s)"
        + (", gravity added to the gravity-free acceleration" if res.gravity_added else "")
    )
    console.print(f"written [bold]{res.path}[/]; definition [bold]{res.definition}[/] "
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
        console.print(f"pulled {p.name} -> {p.path} ({p.label or 'unlabelled'}, "
                      f"{p.n_samples} samples, {p.n_samples / p.sampling_rate_hz:.1f} s)")
        for note in p.notes:
            err_console.print(f"[yellow]note:[/] {escape(note)}")
    if res.already:
        console.print(f"{len(res.already)} recording(s) pulled before, left as they are")
    for message in res.skipped:
        err_console.print(f"[yellow]not pulled:[/] {escape(message)}")
    if res.deleted:
        console.print(f"deleted on the board: {', '.join(res.deleted)}")
    if res.definition is not None:
        console.print(f"definition [bold]{res.definition}[/] (next: tinyhar inspect "
                      f"{res.definition})")
    if res.skipped:
        raise typer.Exit(1)


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


label_app = typer.Typer(
    help=(
        "Label recordings: a ready Label Studio project (export), its JSON export back into "
        "the recordings (import), or time spans typed by hand (quick)."
    ),
    no_args_is_help=True,
)
app.add_typer(label_app, name="label")


def _print_span_reports(res) -> None:
    for session, report in res.sessions.items():
        console.print(f"{escape(session)}: {report.labelled} samples labelled")
        for line in report.lines():
            console.print(f"  [yellow]{escape(line)}[/]")
    for note in res.notes:
        console.print(escape(note))
    for path in res.files:
        console.print(f"written [bold]{escape(str(path))}[/]")
    if not res.files:
        console.print("no recording changed")


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
    console.print(
        f"{res.n_tasks} tasks, classes {escape(', '.join(res.classes))}"
        + (f" ({extra})" if extra else "")
    )
    console.print(f"written [bold]{escape(str(res.folder))}[/]: import "
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
        console.print(f"[yellow]not annotated (left as they were): "
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


def main() -> None:  # pragma: no cover
    """Entry point for ``python -m tinyhar``."""
    app()

"""Commands on runs: ``train``, ``evaluate``, ``predict``, ``robustness``,
``learning-curve``, ``embed`` and ``explore``.

Registered on :data:`tinyhar.cli.app` by :mod:`tinyhar.cli`; like every CLI module, this one
imports only typer, rich and tinyhar's import-free modules at module level (each command imports
what it needs), and prints through ``tinyhar.cli.console`` / ``tinyhar.cli.err_console``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tinyhar import cli
from tinyhar.cli import PRESET_NAMES, _friendly
from tinyhar.errors import ConfigError, TinyharError
from tinyhar.models.kinds import KINDS, TREE_KINDS  # names only, imports nothing


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
    sensors: Annotated[str | None,
                       typer.Option(help="Override: auto | acc | acc+gyro | all.")] = None,
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
        from tinyhar.training import apply_preset

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
    from tinyhar import compute

    # local worker processes start now, while this process imports the training code
    compute.start_workers(cfg.compute.scheduler, cfg.compute.workers)
    from tinyhar.training import train as run_train

    try:
        metrics = run_train(cfg, out, cli.console, overwrite=overwrite)
    finally:
        compute.stop_workers()
    _print_metrics(metrics)
    cli.console.print(f"run folder: [bold]{out}[/] (summary.md, metrics.json, figures)")


SCHEDULER_OPTION_HELP = (
    "Where the sessions of a dataset definition (.yaml) are read and scored, for tree runs: "
    "serial | threads | processes | tcp://host:8786 (a Dask cluster; the data at the same "
    "path on every worker). The results do not depend on it. Networks, and data sets loaded "
    "whole, run in this process whatever the scheduler. A cluster with no worker for the "
    "run's compute.no_workers_timeout_s (set when it was trained; default 20 s) stops the job."
)
"""The help of ``--scheduler`` on ``evaluate`` and ``predict`` (not the run's recorded
``compute.scheduler``: that cluster may be gone)."""

WORKERS_OPTION_HELP = (
    "Local workers for --scheduler threads | processes (default: the default of "
    "compute.workers in a training configuration)."
)
"""The help of ``--workers`` on ``evaluate`` and ``predict``."""


def _start_workers(scheduler: str, workers: int | None, dataset: str | None,
                   streams: bool) -> tuple[str, int]:
    """Check ``--scheduler`` and ``--workers`` of ``evaluate`` / ``predict`` as
    ``compute.scheduler`` and ``compute.workers`` are checked (``workers`` None: that key's
    default), and start local worker processes now for a dataset definition, while this
    process imports the evaluation code (:func:`tinyhar.compute.start_workers`).

    ``streams``: the workers classify whole streams (``--continuous``, ``predict``), so
    they import the run's classifier too; else they compute session features only.

    Raises
    ------
    ConfigError
        A bad scheduler or worker count, naming the option.
    """
    from pydantic import ValidationError

    from tinyhar import compute
    from tinyhar.config import ComputeConfig
    from tinyhar.validation import validation_problems

    given = {"scheduler": scheduler, "workers": workers}
    try:
        c = ComputeConfig.model_validate({k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError("\n".join(f"--{p.key} {p.value!r}: {p.message}"
                                     for p in validation_problems(exc, ComputeConfig))) from None
    if Path(str(dataset)).suffix.lower() in (".yaml", ".yml"):
        if streams:
            from tinyhar.evaluation.sessionstreams import WORKER_MODULES as modules
        else:
            modules = compute.FEATURE_MODULES
        compute.start_workers(c.scheduler, c.workers, modules)
    return c.scheduler, c.workers


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
    cli.console.print(table)
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
    cli.console.print(line)
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
        cli.console.print(text)
    cv = m.get("cross_validation")
    if cv:
        where = "all subjects" if cv.get("scope") == "all subjects" else "training subjects"
        text = (
            f"leave-subjects-out CV on {where} ({plural(cv['n_folds'], 'fold')}): "
            f"macro-F1 {cv['macro_f1_mean']:.3f} ± {cv['macro_f1_std']:.3f}"
        )
        if cv.get("pooled"):
            text += f", pooled {cv['pooled']['macro_f1']:.3f}"
        cli.console.print(text)
        if where == "all subjects":
            cli.console.print(
                "the saved model is fitted on all subjects: its expected score is this CV score"
            )
    if m.get("excluded_training_subjects"):
        ex = m["excluded_training_subjects"]
        cli.console.print(
            f"left out as training subjects of the run: {plural(len(ex), 'subject')} "
            f"({name_subjects(ex)})"
        )
    if m.get("includes_training_subjects"):
        cli.err_console.print(
            f"[yellow]warning:[/] includes {plural(len(m['training_subjects_scored']), 'subject')}"
            f" the run was trained on ({name_subjects(m['training_subjects_scored'])}): "
            "inflated, not subject-independent"
        )
    absent = absent_classes_message(m)
    if absent:
        cli.err_console.print(f"[yellow]warning:[/] {absent}")
    pp = (m.get("postprocess") or {}).get("test_streams")
    if pp:
        raw, smooth = pp["raw"], pp["smoothed"]
        cli.console.print(
            f"post-processing {pp['postprocess']} ({m['postprocess']['chosen_by']}); test "
            f"subjects' whole recordings: macro-F1 {raw['macro_f1']:.3f} -> "
            f"{smooth['macro_f1']:.3f}, over-segmentation {raw['oversegmentation']:.2f} -> "
            f"{smooth['oversegmentation']:.2f}"
        )


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
    scheduler: Annotated[str, typer.Option(help=SCHEDULER_OPTION_HELP)] = "serial",
    workers: Annotated[int | None, typer.Option(help=WORKERS_OPTION_HELP)] = None,
) -> None:
    """Score a trained run on a data set, subject-independently.

    Subjects the run was trained on are left out (same data set or the same
    people, e.g. HAPT and UCI HAR), so `evaluate RUN --dataset <its data set>`
    reproduces the run's held-out test score. With --continuous, whole
    recordings are scored instead of pure windows.
    """
    scheduler, workers = _start_workers(scheduler, workers, dataset, continuous)
    try:
        _evaluate(run, dataset, path, subjects, include_training_subjects, out, json_out,
                  continuous, scheduler, workers)
    finally:  # worker processes that no task used (a network, a single session)
        from tinyhar import compute

        compute.stop_workers()


def _evaluate(run, dataset, path, subjects, include_training_subjects, out, json_out,
              continuous, scheduler, workers) -> None:
    """``evaluate`` once its workers are starting."""
    from tinyhar.evaluate import check_evaluation_out, evaluate_run, write_evaluation
    from tinyhar.runfolder import load_run

    if out is not None:
        check_evaluation_out(out)
    subj = [s.strip() for s in subjects.split(",") if s.strip()] if subjects else None
    run = load_run(run)  # checked once; the evaluation takes the Run
    if continuous:
        _evaluate_continuous(run, dataset, path, subj, include_training_subjects, out, json_out,
                             scheduler, workers)
        return
    metrics = evaluate_run(
        run,
        dataset,
        path,
        subj,
        cli.err_console if json_out else cli.console,
        include_training_subjects=include_training_subjects,
        scheduler=scheduler,
        workers=workers,
    )
    if out is not None:
        write_evaluation(metrics, out)
    if json_out:
        print(json.dumps(metrics, indent=2))
    else:
        from tinyhar.reporting.text import name_subjects

        _print_metrics({**metrics, "protocol": f"subjects {name_subjects(metrics['subjects'])}"})
    if out is not None:
        (cli.err_console if json_out else cli.console).print(
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
    cli.console.print(table)
    excluded = ", ".join(f"{k} {v}" for k, v in m["excluded"].items()) or "none"
    cli.console.print(
        f"{plural(m['n_windows'], 'window')} of {m['window_s']:g} s every {m['hop_s']:g} s in "
        f"{plural(m['n_sessions'], 'session')}; scored {m['raw']['n_scored']}, not scored "
        f"(label): {excluded}; invalid input: {m['n_invalid']}"
    )
    unknown = m.get("unknown_by_label") or {}
    if unknown:
        cli.console.print(
            "unknown activity (rejected before smoothing / unknown after): " + "; ".join(
                f"{k} {v['rejected']:.1%} / {v['unknown_smoothed']:.1%} of {v['n']}"
                for k, v in unknown.items()
            )
        )


def _evaluate_continuous(run, dataset, path, subj, include_training_subjects, out, json_out,
                         scheduler="serial", workers=None):
    """``evaluate --continuous``: whole recordings, before and after post-processing."""
    from tinyhar.evaluate import evaluate_continuous
    from tinyhar.reporting.text import name_subjects, subject_list
    from tinyhar.runfolder import write_text_atomic

    metrics = evaluate_continuous(
        run, dataset, path, subj, cli.err_console if json_out else cli.console,
        include_training_subjects=include_training_subjects, figures_dir=out,
        scheduler=scheduler, workers=workers,
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
        cli.console.print(
            f"left out as training subjects of the run: "
            f"{name_subjects(metrics['excluded_training_subjects'])}"
        )
    if out is not None:
        cli.console.print(
            f"written to [bold]{out}[/]: continuous.json, {', '.join(metrics['figures'])}"
        )


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
    scheduler: Annotated[str, typer.Option(help=SCHEDULER_OPTION_HELP)] = "serial",
    workers: Annotated[int | None, typer.Option(help=WORKERS_OPTION_HELP)] = None,
) -> None:
    """Predict a recording: per-window probabilities, smoothed timeline, segments, figure.

    Every window is classified (window and hop as trained) and smoothed with
    the run's post-processing; long recordings are processed in chunks.
    """
    scheduler, workers = _start_workers(scheduler, workers, recording, True)
    try:
        from tinyhar.predict import predict_recordings

        subjects = [s.strip() for s in subject.split(",") if s.strip()] if subject else None
        info = predict_recordings(
            run, out, recording=recording, dataset=dataset, path=path, subjects=subjects,
            overwrite=overwrite, console=cli.console, scheduler=scheduler, workers=workers,
        )
    finally:  # worker processes that no task used (a network, a single session)
        from tinyhar import compute

        compute.stop_workers()
    cli.console.print(
        f"{info['n_windows']} windows in {info['n_sessions']} session(s): "
        f"{info['raw_changes']} class changes raw, {info['smoothed_changes']} after "
        f"{info['postprocess']}; {info['n_segments']} segments; invalid input: "
        f"{info['n_invalid']}"
        + (f"; unknown activity: {info['n_rejected']} windows rejected, "
           f"{info['n_unknown']} unknown after smoothing" if "reject(" in info["postprocess"]
           else "")
    )
    cli.console.print(
        f"predictions written to [bold]{out}[/] (windows.parquet, segments.csv, timeline.png)"
    )



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
    shown = cli.err_console if json_out else cli.console
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
        cli.console.print(table)
    shown.print(f"written: {', '.join(str(p) for p in written)}")


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
                                console=cli.console, overwrite=overwrite)
    for title, rows, key in (("training subjects", result["subjects"], "n_subjects"),
                             ("minutes per class", result["minutes"], "minutes_per_class")):
        table = Table(title=f"macro-F1 against {title}")
        table.add_column(title, justify="right")
        table.add_column("macro-F1 (mean ± std)", justify="right")
        for row in rows:
            x = row[key]
            table.add_row(f"{x:.1f}" if isinstance(x, float) else str(x),
                          f"{row['macro_f1_mean']:.3f} ± {row['macro_f1_std']:.3f}")
        cli.console.print(table)
    cli.console.print(f"advice: {result['advice']}")
    cli.console.print(f"written to [bold]{out}[/] (learning_curve.json, .md, .png)")



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
    cli.console.print(f"{len(frame)} embeddings of size {frame.shape[1] - 3} written to {out}")


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
    cli.console.print(f"embedding map written to {out}")


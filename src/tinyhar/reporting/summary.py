"""Human-readable ``summary.md`` for a run folder."""

from __future__ import annotations

from pathlib import Path

from tinyhar.models.pipeline import PIPELINE_FILE


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f} %"


def write_summary(metrics: dict, path: str | Path) -> Path:
    """Write a Markdown summary of a run's ``metrics.json`` content.

    Parameters
    ----------
    metrics : dict
        As written by :func:`tinyhar.training.train`.
    path : str or Path
        Output file.
    """
    m = metrics
    size = m.get("model_size", {})
    lines = [
        f"# tinyhar run: {m['dataset']}",
        "",
        f"Protocol: **{m['protocol']}**. Training subjects: {', '.join(m['train_subjects'])}. "
        f"Test subjects: {', '.join(m['test_subjects'])}.",
        "",
    ]
    if m.get("leakage_warning"):
        lines += [f"> **Warning:** {m['leakage_warning']}", ""]
    lines += [
        "| metric | test |",
        "| --- | --- |",
        f"| accuracy | {_pct(m['accuracy'])} |",
        f"| balanced accuracy | {_pct(m['balanced_accuracy'])} |",
        f"| macro-F1 | {m['macro_f1']:.3f} |",
        f"| test windows | {m['n_windows']} |",
        "",
    ]
    cv = m.get("cross_validation")
    if cv:
        lines += [
            f"Leave-subjects-out cross-validation on the training subjects ({cv['n_folds']} "
            f"folds): macro-F1 {cv['macro_f1_mean']:.3f} ± {cv['macro_f1_std']:.3f}, accuracy "
            f"{_pct(cv['accuracy_mean'])} ± {_pct(cv['accuracy_std'])}.",
            "",
        ]
    lines += [
        "## Per class",
        "",
        "| class | precision | recall | F1 | windows |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c, s in m["per_class"].items():
        lines.append(
            f"| {c} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
        )
    window = (
        f"windows of {m['window']['n_samples']} samples at "
        f"{m['window']['sampling_rate_hz']:g} Hz ({m['window']['channels']})"
    )
    if "params" in m:
        model = (
            f"{m['model']} network"
            + (f" (preset {m['preset']})" if m.get("preset") else "")
            + f" with {m['params']} parameters and {m['macs']} multiply-accumulates per "
            f"window, on raw {window}; weights of epoch {m.get('best_epoch')} kept "
            f"(validation subjects: {', '.join(m.get('validation_subjects') or []) or 'none'})."
        )
        figures = "`confusion_matrix.png`, `training_curves.png`, `class_overview.png`"
    else:
        model = (
            f"{m['model']} with {size.get('trees')} trees, {size.get('nodes')} decision nodes, "
            f"{size.get('leaves')} distinct leaves, depth {size.get('max_depth')}: "
            f"{size.get('bytes')} bytes as stored on a device "
            f"({size.get('emlearn_bytes')} in emlearn's int16 layout). "
            f"{m['n_features']} features ({m['feature_set']} set) on {window}."
        )
        figures = "`confusion_matrix.png`, `feature_importance.png`, `class_overview.png`"
    lines += ["", "## Model", "", model, ""]
    wr = m.get("windowing")
    if wr:
        lines += [
            f"Windowing: {wr['n_windows']} windows kept; {wr['n_ambiguous']} ambiguous "
            f"(purity below threshold) and {wr['n_unlabelled']} unlabelled windows dropped; "
            f"{wr['n_gaps']} gaps; {wr['n_short_segments']} segments shorter than a window.",
            "",
        ]
    lines += [
        "## Files",
        "",
        f"- `{PIPELINE_FILE}`: the fitted pipeline (features + model; JSON + arrays, no pickle)",
        "- `config.yaml`: resolved configuration, seed included "
        "(`tinyhar train --config config.yaml --out NEW` reproduces this run)",
        f"- `metrics.json`, {figures}",
        "",
        f"Seed {m['seed']}; tinyhar {m['tinyhar_version']}; "
        f"training took {m['train_seconds']:.1f} s.",
        "",
    ]
    path = Path(path)
    path.write_text("\n".join(lines))
    return path

"""Human-readable ``summary.md`` for a run folder or an evaluation."""

from __future__ import annotations

from pathlib import Path

from tinyhar.models.pipeline import PIPELINE_FILE
from tinyhar.reporting.text import absent_classes_message, name_subjects, plural


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f} %"


def _subjects(subjects: list[str]) -> str:
    return f"{plural(len(subjects), 'subject')} ({name_subjects(subjects, max_chars=1000)})"


def score_lines(m: dict, after_table: list[str] | None = None) -> list[str]:
    """Markdown lines shared by runs and evaluations: scores, warnings, per subject and class.

    Parameters
    ----------
    m : dict
        Metrics as returned by
        :func:`tinyhar.evaluation.metrics.classification_metrics`, with
        ``per_subject`` (optional).
    after_table : list of str, optional
        Lines to put right after the table of overall scores.

    Returns
    -------
    list of str
    """
    pooled = (m.get("cross_validation") or {}).get("scope") == "all subjects"
    lines = [
        f"| metric | {'cross-validation, pooled' if pooled else 'test'} |",
        "| --- | --- |",
        f"| accuracy | {_pct(m['accuracy'])} |",
        f"| balanced accuracy | {_pct(m['balanced_accuracy'])} |",
        f"| macro-F1 | {m['macro_f1']:.3f} |",
        f"| test windows | {m['n_windows']} |",
        "",
        *(after_table or []),
    ]
    absent = absent_classes_message(m)
    if absent:
        lines += [f"> **Warning:** {absent}.", ""]
    per_subject = m.get("per_subject") or {}
    if per_subject:
        f1 = [s["macro_f1"] for s in per_subject.values()]
        lines += [
            "## Per subject",
            "",
            f"{plural(len(per_subject), 'test subject')}; macro-F1 from {min(f1):.3f} to "
            f"{max(f1):.3f}.",
            "",
            "| subject | windows | accuracy | macro-F1 | classes without windows |",
            "| --- | --- | --- | --- | --- |",
        ]
        for subject, s in per_subject.items():
            lines.append(
                f"| {subject} | {s['n_windows']} | {_pct(s['accuracy'])} | "
                f"{s['macro_f1']:.3f} | {', '.join(s.get('absent_classes') or []) or '-'} |"
            )
        lines.append("")
    lines += [
        "## Per class",
        "",
        "| class | precision | recall | F1 | windows |",
        "| --- | --- | --- | --- | --- |",
    ]
    absent_set = set(m.get("absent_classes") or [])
    scored = set(m.get("scored_classes") or m["per_class"])
    for c, s in m["per_class"].items():
        if c in absent_set and c not in scored:
            lines.append(f"| {c} | absent | absent | absent | 0 |")
            continue
        lines.append(
            f"| {c} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | {s['support']} |"
        )
    return lines


def _cv_lines(m: dict) -> list[str]:
    cv = m.get("cross_validation")
    if not cv:
        return []
    folds = plural(cv["n_folds"], "fold")
    spread = (
        f"macro-F1 {cv['macro_f1_mean']:.3f} ± {cv['macro_f1_std']:.3f}, accuracy "
        f"{_pct(cv['accuracy_mean'])} ± {_pct(cv['accuracy_std'])} (mean ± sd over folds)"
    )
    pooled = cv.get("pooled")
    pooled_text = (
        f"; pooled over all folds' predictions: macro-F1 {pooled['macro_f1']:.3f}, accuracy "
        f"{_pct(pooled['accuracy'])}"
        if pooled
        else ""
    )
    if cv.get("scope") == "all subjects":
        return [
            f"Cross-validation by subject over all subjects ({folds}, "
            f"{cv['subjects_per_fold']}): {spread}{pooled_text}. The table above is the pooled "
            "score: each subject is scored by the fold model that did not see it. The saved "
            "model was fitted on all subjects; its expected score on new people is this "
            "cross-validation score.",
            "",
        ]
    return [
        f"Leave-subjects-out cross-validation on the training subjects ({folds}): "
        f"{spread}{pooled_text}.",
        "",
    ]


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
        f"Protocol: **{m['protocol']}**. Training: {_subjects(m['train_subjects'])}. "
        f"Test: {_subjects(m['test_subjects'])}.",
        "",
    ]
    if m.get("leakage_warning"):
        lines += [f"> **Warning:** {m['leakage_warning']}", ""]
    lines += score_lines(m, _cv_lines(m))
    window = (
        f"windows of {m['window']['n_samples']} samples at "
        f"{m['window']['sampling_rate_hz']:g} Hz ({m['window']['channels']})"
    )
    if "params" in m:
        model = (
            f"{m['model']} network"
            + (f" (preset {m['preset']})" if m.get("preset") else "")
            + f" with {plural(m['params'], 'parameter')} and "
            f"{plural(m['macs'], 'multiply-accumulate')} per "
            f"window, on raw {window}; weights of epoch {m.get('best_epoch')} kept "
            f"(validation subjects: {', '.join(m.get('validation_subjects') or []) or 'none'})."
        )
        figures = (
            "`confusion_matrix.png`, `per_subject.png`, `training_curves.png` (the kept "
            "epoch marked), `class_overview.png`"
        )
    else:
        model = (
            f"{m['model']} with {plural(size.get('trees', 0), 'tree')}, "
            f"{plural(size.get('nodes', 0), 'decision node')}, "
            f"{plural(size.get('leaves', 0), 'distinct leaf', 'distinct leaves')}, "
            f"depth {size.get('max_depth')}: "
            f"{size.get('bytes')} bytes as stored on a device "
            f"({size.get('emlearn_bytes')} in emlearn's int16 layout). "
            f"{plural(m['n_features'], 'feature')} ({m['feature_set']} set) on {window}."
        )
        figures = (
            "`confusion_matrix.png`, `per_subject.png`, `feature_importance.png`, "
            "`class_overview.png`"
        )
    lines += ["", "## Model", "", model, ""]
    wr = m.get("windowing")
    if wr:
        lines += [
            f"Windowing: {plural(wr['n_windows'], 'window')} kept; "
            f"{plural(wr['n_ambiguous'], 'ambiguous window')} (purity below threshold) and "
            f"{plural(wr['n_unlabelled'], 'unlabelled window')} dropped; "
            f"{plural(wr['n_gaps'], 'gap')}; "
            f"{plural(wr['n_short_segments'], 'segment')} shorter than a window.",
            "",
        ]
    lines += _postprocess_lines(m.get("postprocess"))
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
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _postprocess_lines(pp: dict | None) -> list[str]:
    """The "Post-processing" section: chosen option and whole-stream scores before/after."""
    if not pp:
        return []
    lines = ["## Post-processing", "",
             f"**{pp['description']}** ({pp['chosen_by']}); saved in `postprocess.json`.", ""]
    ts = pp.get("test_streams")
    if ts:
        rows = (("per-window macro-F1", "macro_f1", "{:.3f}"), ("Cohen's kappa", "kappa", "{:.3f}"),
                ("segment F1 (IoU >= 0.5)", "segment_f1", "{:.3f}"),
                ("over-segmentation", "oversegmentation", "{:.2f}"),
                ("edit score", "edit_score", "{:.1f}"))
        lines += [
            f"Test subjects' whole recordings ({plural(ts['n_windows'], 'window')} in "
            f"{plural(ts['n_sessions'], 'session')}, {ts['raw']['n_scored']} scored; not "
            "scored: " + (", ".join(f"{k} {v}" for k, v in ts["excluded"].items()) or "none")
            + "):",
            "",
            "| | raw | post-processed |",
            "| --- | ---: | ---: |",
        ]
        lines += [f"| {label} | {fmt.format(ts['raw'][k])} | {fmt.format(ts['smoothed'][k])} |"
                  for label, k, fmt in rows]
        lines.append("")
        unknown = ts.get("unknown_by_label") or {}
        if unknown:
            lines += [
                "Unknown activity (a window rejected counts as wrong when its label is known):",
                "",
                "| windows | n | rejected | unknown after post-processing |",
                "| --- | ---: | ---: | ---: |",
            ]
            lines += [f"| {k} | {v['n']} | {v['rejected']:.1%} | {v['unknown_smoothed']:.1%} |"
                      for k, v in unknown.items()]
            lines.append("")
    if pp.get("note"):
        lines += [pp["note"], ""]
    return lines


def write_evaluation_summary(metrics: dict, path: str | Path) -> Path:
    """Write a Markdown summary of :func:`tinyhar.evaluate.evaluate_run`'s result.

    Parameters
    ----------
    metrics : dict
        As returned by :func:`tinyhar.evaluate.evaluate_run`.
    path : str or Path
        Output file.
    """
    m = metrics
    lines = [
        f"# tinyhar evaluation: {m['run']} on {m['dataset']}",
        "",
        f"Scored: {_subjects(m['subjects'])}.",
        "",
    ]
    excluded = m.get("excluded_training_subjects") or []
    if excluded:
        lines += [
            f"Excluded as training subjects of the run: {_subjects(excluded)} "
            "(`--include-training-subjects` scores them too, with inflated results).",
            "",
        ]
    if m.get("includes_training_subjects"):
        lines += [
            f"> **Warning:** {_subjects(m['training_subjects_scored'])} scored here "
            "trained the model: these scores are inflated, not subject-independent.",
            "",
        ]
    if m.get("skipped_classes"):
        lines += [
            f"Windows of classes the model does not know were skipped: "
            f"{', '.join(m['skipped_classes'])}.",
            "",
        ]
    lines += score_lines(m)
    lines += ["", "Files: `metrics.json`, `confusion_matrix.png`, `per_subject.png`.", ""]
    path = Path(path)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path

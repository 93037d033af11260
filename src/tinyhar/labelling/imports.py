"""Label Studio annotations and tables of time spans back into recordings.

See the :mod:`tinyhar.labelling` docstring (*Import*).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tinyhar.datasets.recording import RecordingSet
from tinyhar.errors import ConfigError, DataFormatError, TinyharError
from tinyhar.labelling.export import TASKS_FILE, _load_source, _safe_name
from tinyhar.labelling.spans import SEGMENT_LABEL, SpanReport, labels_from_spans


@dataclass
class ImportResult:
    """What :func:`import_annotations` or :func:`label_from_spans_file` wrote.

    Attributes
    ----------
    files : list of Path
        Recordings rewritten.
    sessions : dict
        Session -> :class:`SpanReport`.
    not_annotated : list of str
        Sessions whose task had no (unskipped) annotation: left as they were.
    notes : list of str
        Other things the user should know (several annotations, classes added).
    """

    files: list[Path] = field(default_factory=list)
    sessions: dict[str, SpanReport] = field(default_factory=dict)
    not_annotated: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ spans <-> samples

# ------------------------------------------------------------------ import
def _read_export(file: Path) -> list[dict]:
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{file} does not exist; export the Label Studio project as JSON "
                          "(Export > JSON) and give that file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(file, f"cannot read: {exc}") from exc
    try:
        tasks = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataFormatError(file, f"not valid JSON ({exc.msg}); export the project as JSON",
                              line=exc.lineno, column=exc.colno) from exc
    if isinstance(tasks, dict) and "data" in tasks:
        tasks = [tasks]
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise DataFormatError(file, "not a Label Studio JSON export (a list of tasks); export "
                              "the project with Export > JSON")
    if tasks and all("data" not in t for t in tasks):
        raise DataFormatError(file, "tasks have no 'data' and 'annotations': this looks like a "
                              "JSON-MIN or CSV export; export with Export > JSON instead")
    return tasks


def _task_spans(task: dict, file: Path, where: str) -> tuple[list | None, int]:
    """Spans of the latest unskipped annotation (None when there is none) and the count."""
    annotations = task.get("annotations", task.get("completions")) or []
    if not isinstance(annotations, list):
        raise DataFormatError(file, f"{where}: 'annotations' is not a list")
    valid = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    if not valid:
        return None, 0
    latest = max(valid, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""),
                                       a.get("id") or 0))
    spans = []
    for item in latest.get("result") or []:
        if not isinstance(item, dict) or item.get("type") != "timeserieslabels":
            continue
        value = item.get("value") or {}
        labels = value.get("timeserieslabels") or []
        try:
            start, end = float(value["start"]), float(value["end"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(
                file, f"{where}: a region has start {value.get('start')!r} and end "
                f"{value.get('end')!r}, not numbers of seconds; the project's time column must "
                "be 'time' as tinyhar label export wrote it") from exc
        if value.get("instant"):
            end = start
        for cls in labels:
            spans.append((start, end, str(cls)))
    return spans, len(valid)


def _recordings_by_session(folder: Path) -> dict[str, Path]:
    import pyarrow.parquet as pq
    from pyarrow import ArrowException

    if not folder.is_dir():
        raise ConfigError(f"--into {folder}: no such folder; give the folder of the recordings "
                          "(tinyhar recordings import/pull wrote them)")
    out: dict[str, Path] = {}
    for file in sorted(folder.rglob("*.parquet")):
        if file.name.startswith("."):
            continue
        try:
            sessions = pq.read_table(file, columns=["session"]).column("session").to_pylist()
        except (OSError, KeyError, ValueError, ArrowException):
            continue  # not a tinyhar recording
        for s in dict.fromkeys(str(v) for v in sessions):
            if s in out:
                raise DataFormatError(file, f"session {s!r} is also in {out[s]}; one session "
                                      "must live in one recording file")
            out[s] = file
    return out


def _off() -> dict[str, bool]:
    from tinyhar.datasets.checks import DataChecks

    return dict.fromkeys(DataChecks.model_fields, False)


def import_annotations(export: str | Path, into: str | Path,
                       overwrite: bool = False) -> ImportResult:
    """Write Label Studio annotations into the recordings (package docstring: *Import*).

    Parameters
    ----------
    export : str or Path
        Label Studio's JSON export of a project made from
        :func:`export_project`'s ``tasks.json``.
    into : str or Path
        Folder of the canonical recordings (``*.parquet``, searched
        recursively) holding the exported sessions; or a new (or empty)
        folder: then the annotated recordings are read from the project's
        source (e.g. a definition of CSV files) and written there as labelled
        canonical recordings with a ``data.yaml`` listing them.
    overwrite : bool
        Replace labels a recording already has when they differ.

    Returns
    -------
    ImportResult

    Raises
    ------
    DataFormatError
        Naming the export file and task: not JSON or not a JSON export; a
        task not written by ``tinyhar label export`` or of two different
        exports (another project); a session not in ``into`` or with another
        number of samples (the recording changed); a class outside the
        project's classes; a span outside the recording's time range.
    ConfigError
        ``into`` missing, or labels would change without ``overwrite``.
    """
    file, folder = Path(export), Path(into)
    tasks = _read_export(file)
    found = _recordings_by_session(folder) if folder.exists() else {}
    project_ids = set()
    plan: dict[Path, dict[str, tuple[list, list[str]]]] = {}
    copies: dict[str, dict[str, tuple]] = {}
    result = ImportResult()
    for i, task in enumerate(tasks, start=1):
        data = task.get("data") or {}
        where = f"task {task.get('id', i)}"
        pid = data.get("tinyhar_project")
        session = data.get("session")
        if not pid or session is None:
            raise DataFormatError(
                file, f"{where} was not written by tinyhar label export (its data has no "
                "tinyhar_project/session): this is an export of another Label Studio project; "
                f"export the project you imported {TASKS_FILE} into")
        project_ids.add(str(pid))
        if len(project_ids) > 1:
            raise DataFormatError(file, f"{where} comes from another tinyhar label export than "
                                  "the tasks before it; export one project at a time")
        session = str(session)
        where = f"{where} (session {session})"
        classes = [str(c) for c in data.get("tinyhar_classes") or []]
        spans, n_annotations = _task_spans(task, file, where)
        if spans is None:
            result.not_annotated.append(session)
            continue
        if n_annotations > 1:
            result.notes.append(f"session {session}: {n_annotations} annotations, the latest "
                                "used")
        unknown = sorted({c for _, _, c in spans if c not in classes and c != SEGMENT_LABEL})
        if unknown:
            raise DataFormatError(
                file, f"{where}: classes {unknown} are not in the project's classes {classes}; "
                "relabel those regions, or export again with --classes adding them")
        if not found:  # a new folder: labelled copies of the project's recordings
            copies.setdefault(str(data.get("source") or ""), {})[session] = (
                spans, classes, data.get("n_samples"), where)
            continue
        target = found.get(session)
        if target is None:
            raise DataFormatError(
                file, f"{where}: no recording in {folder} holds session {session!r} (it has "
                f"{', '.join(sorted(found)[:5]) or 'no tinyhar recordings'}): an export of "
                "another project or another folder; give --into the recordings folder the "
                "project was exported from")
        plan.setdefault(target, {})[session] = (spans, classes, data.get("n_samples"), where)
    if copies:
        _write_copies(copies, file, folder, result)
    else:
        _apply(plan, file, result, overwrite)
    return result


def _write_copies(copies: dict, file: Path, folder: Path, result: ImportResult) -> None:
    """Labelled copies of the project's recordings in a new recordings folder (+ data.yaml)."""
    from tinyhar.datasets.phone import DEFINITION_FILE, _definition_text
    from tinyhar.runfolder import atomic_file, write_text_atomic

    definition = folder / DEFINITION_FILE
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(
            f"--into {folder} holds no tinyhar recordings (.parquet) but other files: label "
            "import writes into the recordings the project was exported from, or labelled "
            "copies of them into a new or empty folder; give one, e.g. "
            f"--into {folder.name}-labelled")
    staged, all_classes, rate, gyro = [], [], None, False
    for source, sessions in copies.items():
        first = next(iter(sessions.values()))[3]
        try:
            data = _load_source(source, None)
        except TinyharError as exc:
            raise DataFormatError(
                file, f"{first}: {folder} holds no tinyhar recordings, and the project's "
                f"source {source!r} cannot be read ({exc}); give --into the recordings folder "
                "the project was exported from") from exc
        rate, gyro = data.sampling_rate_hz, data.has_gyro
        for session, (spans, classes, n_expected, where) in sessions.items():
            part = data.frame[data.frame["session"] == session].reset_index(drop=True)
            if n_expected is not None and int(n_expected) != len(part):
                raise DataFormatError(
                    file, f"{where}: session {session} of {source} has {len(part)} samples, "
                    f"the exported task had {n_expected}: the data changed after label export "
                    "(or this is an export of another project); export and label it again")
            labels, report = labels_from_spans(part["time"].to_numpy(np.float64), spans, rate,
                                               f"{file}, {where}")
            result.sessions[session] = report
            part["label"] = pd.array(labels, dtype="string")
            used = {x for x in labels if x is not None}
            own = [c for c in dict.fromkeys([*classes, *sorted(used)]) if c in used]
            all_classes += [c for c in own if c not in all_classes]
            staged.append((session, RecordingSet(part, rate, own, name=folder.resolve().name,
                                                 source=str(file), origins=data.origins)))
    names: set[str] = set()
    folder.mkdir(parents=True, exist_ok=True)
    for session, rec in staged:
        target = folder / f"{_safe_name(session, names)}.parquet"
        with atomic_file(target) as tmp:
            rec.to_parquet(tmp)
        result.files.append(target)
    write_text_atomic(definition, _definition_text(folder.resolve().name, rate, gyro,
                                                   all_classes, None))
    result.files.append(definition)
    result.notes.append(f"{folder} held no recordings: wrote labelled copies of the "
                        f"{len(staged)} annotated recording(s) and {definition} (train with "
                        f"--dataset {definition})")


def _apply(plan: dict, file: Path, result: ImportResult, overwrite: bool) -> None:
    """Check every planned change, then write every changed recording atomically."""
    from tinyhar.runfolder import atomic_file

    staged = []
    for target, sessions in plan.items():
        rec = RecordingSet.from_parquet(target, checks=_off())
        frame = rec.frame.assign(label=rec.frame["label"].astype("string"))  # new labels go in
        new_classes = list(rec.classes)
        changed = False
        for session, (spans, classes, n_expected, where) in sessions.items():
            rows = np.flatnonzero((frame["session"] == session).to_numpy())
            if n_expected is not None and int(n_expected) != len(rows):
                raise DataFormatError(
                    target, f"session {session} has {len(rows)} samples but the exported task "
                    f"had {n_expected} ({file}, {where}): the recording changed after label "
                    "export; export and label it again")
            time = frame["time"].to_numpy(np.float64)[rows]
            labels, report = labels_from_spans(time, spans, rec.sampling_rate_hz,
                                               f"{file}, {where}")
            result.sessions[session] = report
            old = frame["label"].iloc[rows].astype(object).where(
                frame["label"].iloc[rows].notna(), None).to_numpy()
            differs = np.array([a is not None and a != b for a, b in zip(old, labels,
                                                                          strict=True)])
            if differs.any() and not overwrite:
                raise ConfigError(
                    f"{target}: session {session} already has labels and {int(differs.sum())} "
                    "labelled samples would change; add --overwrite to replace them")
            if any(a != b for a, b in zip(old, labels, strict=True)):
                changed = True
            used = {x for x in labels if x is not None}
            new_classes += [c for c in dict.fromkeys([*classes, *sorted(used)])
                            if c in used and c not in new_classes]
            frame.loc[frame.index[rows], "label"] = pd.array(labels, dtype="string")
        if changed:
            added = [c for c in new_classes if c not in rec.classes]
            if added:
                result.notes.append(f"{target.name}: classes {added} added")
            staged.append((target, RecordingSet(frame, rec.sampling_rate_hz, new_classes,
                                                rec.name, rec.citation, rec.licence,
                                                str(target), rec.origins), added))
    for target, rec, added in staged:
        with atomic_file(target) as tmp:
            rec.to_parquet(tmp)
        result.files.append(target)
        if added:
            _add_classes_to_definition(target.parent, added, result)


def _add_classes_to_definition(folder: Path, added: list[str], result: ImportResult) -> None:
    """Append new classes to ``folder/data.yaml``'s ``classes`` (when it lists them)."""
    import yaml

    from tinyhar.runfolder import write_text_atomic

    file = folder / "data.yaml"
    if not file.exists():
        return
    text = file.read_text(encoding="utf-8")
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError:
        return
    if not isinstance(body, dict) or not isinstance(body.get("classes"), list):
        return
    body["classes"] = [*body["classes"], *(c for c in added if c not in body["classes"])]
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    header = header if text.startswith("#") else ""
    write_text_atomic(file, header + yaml.safe_dump(body, sort_keys=False))
    result.notes.append(f"{file}: classes {added} added")


# ------------------------------------------------------------------ by hand
def label_from_spans_file(recording: str | Path, spans_file: str | Path,
                          overwrite: bool = False, new_classes: bool = False) -> ImportResult:
    """Label a recording from a CSV of time spans (``tinyhar label quick``).

    Parameters
    ----------
    recording : str or Path
        A canonical recording (tinyhar ``.parquet``).
    spans_file : str or Path
        CSV with columns ``start,end,class`` (s from the session start;
        closed spans) and, when the recording holds several sessions,
        ``session``.
    overwrite : bool
        Replace labels the recording already has when they differ.
    new_classes : bool
        Allow classes the recording does not list yet (else an error, to
        catch typos); a recording without classes accepts any.

    Returns
    -------
    ImportResult

    Raises
    ------
    DataFormatError
        Naming the spans file and line: missing columns, a time that is not a
        number, an unknown class or session, a span outside the recording.
    ConfigError
        Labels would change without ``overwrite``.
    """
    rec_path, file = Path(recording), Path(spans_file)
    if not rec_path.exists():
        raise ConfigError(f"{rec_path} does not exist; give a tinyhar recording (.parquet)")
    try:
        table = pd.read_csv(file, dtype=str, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise ConfigError(f"{file} does not exist; write a CSV with columns start,end,class "
                          "(seconds)") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError,
            UnicodeDecodeError) as exc:
        raise DataFormatError(file, f"cannot read as CSV: {exc}") from exc
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("start", "end", "class") if c not in table.columns]
    if missing:
        raise DataFormatError(file, f"missing columns {missing}; the header must be "
                              f"start,end,class (got {list(table.columns)})", line=1)
    rec = RecordingSet.from_parquet(rec_path, checks=_off())
    sessions = rec.sessions
    if "session" not in table.columns and len(sessions) > 1:
        raise DataFormatError(file, f"{rec_path} holds {len(sessions)} sessions: add a column "
                              "session naming each span's session", line=1)
    known = set(rec.classes)
    per: dict[str, list] = {}
    for i, row in table.iterrows():
        line = int(i) + 2
        try:
            start, end = float(row["start"]), float(row["end"])
        except (TypeError, ValueError) as exc:
            raise DataFormatError(file, f"start {row['start']!r} / end {row['end']!r} must be "
                                  "numbers of seconds", line=line) from exc
        if not (np.isfinite(start) and np.isfinite(end)):
            raise DataFormatError(file, "start and end must be finite seconds", line=line)
        cls = str(row["class"]).strip() if pd.notna(row["class"]) else ""
        if not cls:
            raise DataFormatError(file, "the class is empty", line=line, column="class")
        if known and cls not in known and not new_classes:
            raise DataFormatError(file, f"class {cls!r} is not in the recording's classes "
                                  f"{rec.classes}; fix the name, or add --new-classes",
                                  line=line, column="class")
        session = str(row["session"]).strip() if "session" in table.columns else sessions[0]
        if session not in sessions:
            raise DataFormatError(file, f"session {session!r} is not in {rec_path} (it has "
                                  f"{', '.join(sessions[:5])})", line=line, column="session")
        per.setdefault(session, []).append((start, end, cls, line))
    plan = {}
    for session, spans in per.items():
        # check each span alone first, so the error names its line
        time = rec.frame.loc[rec.frame["session"] == session, "time"].to_numpy(np.float64)
        for start, end, cls, line in spans:
            labels_from_spans(time, [(start, end, cls)], rec.sampling_rate_hz,
                              f"{file}, line {line}", placeholder=None)
        classes = list(dict.fromkeys([*rec.classes, *(c for _, _, c, _ in spans)]))
        plan[session] = ([(a, b, c) for a, b, c, _ in spans], classes, None, "spans")
    result = ImportResult()
    _apply({rec_path: plan}, file, result, overwrite)
    return result

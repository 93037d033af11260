"""``tinyhar inspect``: a data-quality report of a data set, with plots and advice.

:func:`inspect_dataset` reads a data set (a registry name, a YAML dataset
definition or a Parquet file) with the loader's stopping checks switched off,
so that a wrong unit or rate is *reported* instead of refusing to load, and
runs the checks of :mod:`tinyhar.datasets.checks` on every session
(recording):

- timing: measured rate against the declared one
  (:func:`~tinyhar.datasets.checks.check_sampling_rate`), sampling-rate jitter
  and gaps (:func:`~tinyhar.datasets.checks.time_steps`);
- units: gravity level (:func:`~tinyhar.datasets.checks.gravity_level`,
  :func:`~tinyhar.datasets.checks.check_acc_units`) and angular-rate
  plausibility (:func:`~tinyhar.datasets.checks.check_gyro_units`);
- clipping (:func:`~tinyhar.datasets.checks.clipped_channels`), dead axes
  (:func:`~tinyhar.datasets.checks.dead_channels`), and axes swapped against
  the other sessions of the same class
  (:func:`~tinyhar.datasets.checks.swapped_axes`);

then cuts windows as training would (the configuration's default window and
hop unless given) and counts windows per class, warning below
:data:`MIN_WINDOWS_PER_CLASS`, and gives concrete advice per class: how many
more minutes from how many more people reach :data:`TARGET_SUBJECTS` people
and ``TARGET_SUBJECTS x`` :data:`TARGET_MINUTES_PER_SUBJECT` minutes in all.

The report is a folder: ``report.md`` (Markdown; tables and findings) with
PNGs (timelines of every recording with its labels, minutes per class per
subject), written to a temporary sibling and renamed into place, so a reader
sees the old report or the new one, never half of one.

A dataset definition is read one session at a time
(:func:`tinyhar.datasets.bysession.map_sessions`): each session is checked and
windowed on its own and only what the report needs is kept (its table rows
and findings, its mean acceleration per class, sample counts, and per window
the start time and, for the sessions drawn in the timelines, the mean
magnitude and label), so memory is bounded by one session plus about 9 bytes
per window (25 MB for 1,000 hours at the default hop); the report is the one
the whole load gives, byte for byte. A tinyhar Parquet recording is read the
same way, each session joined from the file's batches of rows
(:func:`tinyhar.datasets.bysession.map_file_sessions`). Named data sets are
loaded whole and cut into the same sessions.
"""

from __future__ import annotations

import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tinyhar.errors import ConfigError, DataFormatError, TinyharError

__all__ = [
    "MIN_WINDOWS_PER_CLASS",
    "REPORT_FILE",
    "TARGET_MINUTES_PER_SUBJECT",
    "TARGET_SUBJECTS",
    "InspectReport",
    "inspect_dataset",
]

REPORT_FILE = "report.md"
"""The report's Markdown file in the output folder."""
MIN_WINDOWS_PER_CLASS = 10
"""Fewer windows of a class than this after windowing gives a warning (too few to learn)."""
TARGET_SUBJECTS = 3
"""People per class the advice aims at: leave-subjects-out evaluation tests each class on
people not trained on, so a class needs at least two people to train on and one to test."""
TARGET_MINUTES_PER_SUBJECT = 2.0
"""Minutes per class and person the advice aims at (``TARGET_SUBJECTS`` times this in all):
about 90 windows of 2.56 s with 50 % overlap per person, enough for tree models on
hand-made features (HAPT has 1-2 minutes per activity and person)."""
SESSIONS_PER_TIMELINE = 8
"""Recordings drawn per timeline figure (reporting.timeline.MAX_TIMELINE_SESSIONS)."""
MAX_TIMELINE_FIGURES = 8
"""Timeline figures at most (the report says how many recordings were not drawn)."""


@dataclass
class InspectReport:
    """What :func:`inspect_dataset` found.

    Attributes
    ----------
    name : str
        The data set.
    out : Path
        The report folder (``report.md`` and PNGs).
    sampling_rate_hz : float
        Declared rate (Hz).
    minutes : pandas.DataFrame
        Minutes per class (rows) and subject (columns).
    windows_per_class : dict of str -> int
        Windows per class after windowing.
    sessions : pandas.DataFrame
        One row per recording: subject, session, minutes, measured rate (Hz),
        jitter (ms), gaps, gravity (g), findings.
    findings : list of str
        Problems found, each naming the recording (file) and what to do.
    advice : list of str
        "record at least N more minutes of X from M more people" lines.
    """

    name: str
    out: Path
    sampling_rate_hz: float
    minutes: pd.DataFrame
    windows_per_class: dict[str, int]
    sessions: pd.DataFrame
    findings: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)


_CHECKS_OFF = {"sampling_rate": False, "units": False, "clipping": False}
"""The loader's stopping checks switched off: inspect reports what they would stop on."""


def _load_parts(dataset: str | Path, path: str | Path | None, visit, on_restart):
    """``visit`` of each session of the data set, and the loader's notes (warnings).

    A dataset definition is read one session at a time
    (:func:`tinyhar.datasets.bysession.map_sessions`), a tinyhar Parquet
    recording one session at a time from its batches of rows
    (:func:`~tinyhar.datasets.bysession.map_file_sessions`); other data sets
    are loaded whole and cut into their sessions
    (:func:`~tinyhar.datasets.bysession.split_sessions`).
    """
    from tinyhar.datasets.bysession import map_file_sessions, map_sessions, split_sessions
    from tinyhar.datasets.recording import RecordingSet
    from tinyhar.datasets.registry import _data_file, load_dataset
    from tinyhar.datasets.sessions import RecordingFile

    file = _data_file(str(dataset), path, {})
    data = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if file is not None and file.suffix.lower() in (".yaml", ".yml"):
            parts = map_sessions(file, visit, _CHECKS_OFF, on_restart)
        elif file is not None and RecordingFile.streams(file):
            parts = map_file_sessions(file, visit, _CHECKS_OFF)
        else:
            data = load_dataset(dataset, path=path, checks=_CHECKS_OFF)
    if data is not None:
        if not isinstance(data, RecordingSet):
            raise ConfigError(f"{dataset} holds windows cut by its publisher, not recordings; "
                              "inspect works on continuous recordings (hapt, wisdm-raw, your own "
                              "data set definition)")
        parts = [visit(part) for part in split_sessions(data)]
    notes = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    return parts, notes


@dataclass
class _Part:
    """What inspect keeps of one session (or one file's sessions): no samples, no windows.

    ``starts`` (s) holds every window's start (for the typical hop),
    ``drawn`` which windows are of the sessions drawn in the timelines;
    ``sessions``, ``labels`` and ``magnitude`` (g) are of those windows only.
    """

    rows: list[dict]
    findings: list[str]
    means: dict[str, list[tuple[str, np.ndarray]]]
    counts: object
    windows_per_class: dict[str, int]
    session_names: list[str]
    starts: np.ndarray
    drawn: np.ndarray
    sessions: np.ndarray
    labels: np.ndarray
    magnitude: np.ndarray
    window_s: float


class _Inspector:
    """Inspects one session's recordings at a time (:func:`_Inspector.__call__`).

    Keeps the names of the sessions drawn so far, so that per-window values
    are kept for the first ``MAX_TIMELINE_FIGURES x SESSIONS_PER_TIMELINE``
    sessions with windows only.
    """

    def __init__(self, window: float, hop: float, dataset) -> None:
        self.window, self.hop, self.dataset = window, hop, dataset
        self.drawn: list[str] = []

    def reset(self) -> None:
        """Forget the sessions drawn (the data set is read again from its start)."""
        self.drawn = []

    def __call__(self, rec) -> _Part:
        """Checks, class means, sample counts and per-window values of ``rec``."""
        from tinyhar.datasets.bysession import SampleCounts
        from tinyhar.windows.windowing import make_windows

        findings: list[str] = []
        rows = _session_checks(rec, findings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                # unlabelled windows too: the timelines show where labels are missing
                windows, _ = make_windows(rec, window=self.window, hop=self.hop, unit="s",
                                          keep_unlabelled=True)
            except TinyharError as exc:
                raise ConfigError(f"{self.dataset}: no windows of {self.window:g} s ({exc})"
                                  ) from exc
        names = list(dict.fromkeys(windows.session.tolist()))
        room = max(0, MAX_TIMELINE_FIGURES * SESSIONS_PER_TIMELINE - len(self.drawn))
        self.drawn += names[:room]
        keep = np.isin(windows.session, names[:room])
        acc = [windows.channels.index(c) for c in ("acc_x", "acc_y", "acc_z")]
        x = windows.X[keep][:, :, acc].astype(np.float64)
        magnitude = np.sqrt((x ** 2).sum(axis=2)).mean(axis=1)
        counts = pd.Series(windows.y).value_counts()
        return _Part(rows, findings, _class_means(rec), SampleCounts.of(rec),
                     {str(c): int(n) for c, n in counts.items()}, names,
                     np.asarray(windows.start_time, dtype=np.float64), keep,
                     windows.session[keep],
                     np.asarray(windows.y[keep]).astype(str), magnitude,
                     windows.X.shape[1] / windows.sampling_rate_hz)


def _session_checks(rec, findings: list[str]) -> list[dict]:
    """Per-session timing, unit, clipping and dead-axis findings (checks.py): a row each."""
    from tinyhar.datasets import checks as ck

    frame = rec.frame
    rate = rec.sampling_rate_hz
    gyro_cols = ["gyro_x", "gyro_y", "gyro_z"] if rec.has_gyro else []
    rows = []
    for (subject, session), part in frame.groupby(["subject", "session"], sort=False,
                                                  observed=True):
        where = f"{session} (subject {subject})"
        acc = part[["acc_x", "acc_y", "acc_z"]].to_numpy(np.float64)
        gyro = part[gyro_cols].to_numpy(np.float64) if gyro_cols else None
        timing = ck.time_steps(part["time"].to_numpy(), rate)
        notes = []
        try:
            ck.check_sampling_rate(part["time"].to_numpy(), rate, where, "time")
        except DataFormatError as exc:
            notes.append("rate")
            findings.append(str(exc))
        if timing["gaps"]:
            longest = max(g for _, g in timing["gaps"])
            notes.append(f"{len(timing['gaps'])} gap(s)")
            findings.append(
                f"{where}: {len(timing['gaps'])} gap(s) in the time column, the longest "
                f"{longest:.3g} s (first after sample {timing['gaps'][0][0]}); samples were "
                "lost (a full sensor buffer, a slow flash write) or recordings were joined; "
                "windows across a gap mix times, so split the recording there")
        if timing["backwards"]:
            notes.append("time goes back")
        level, _ = ck.gravity_level(acc, rate)
        unit_checks = [(ck.check_acc_units, (acc, rate, where))]
        if gyro is not None:
            unit_checks.append((ck.check_gyro_units, (gyro, acc, rate, where)))
        for check, args in unit_checks:
            try:
                check(*args)
            except DataFormatError as exc:
                notes.append("units")
                findings.append(str(exc))
        values = acc if gyro is None else np.concatenate([acc, gyro], axis=1)
        names = ["acc_x", "acc_y", "acc_z", *gyro_cols]
        clipped = ck.clipped_channels(values, names)
        if clipped:
            notes.append("clipping")
            findings.append(ck.describe_clipping(values, names, where)
                            + ": the sensor's range was too small for this motion")
        dead = ck.dead_channels(values, names)
        if dead:
            notes.append("dead " + ",".join(c for c, _ in dead))
            findings.append(
                f"{where}: {', '.join(f'{c} (std {s:.2g})' for c, s in dead)} do not move: a "
                "dead or disconnected axis, or a column filled with a constant; check the "
                "sensor and the column mapping")
        rows.append({
            "subject": str(subject), "session": str(session),
            "minutes": len(part) / rate / 60.0,
            "measured_hz": timing["measured_hz"], "jitter_ms": timing["jitter_ms"],
            "gaps": len(timing["gaps"]), "gravity_g": level,
            "findings": "; ".join(notes) or "ok",
        })
    return rows


def _class_means(rec) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Per class, each session's mean acceleration (g) over its samples of the class."""
    frame = rec.frame[rec.frame["label"].notna()]
    out = {}
    for label, part in frame.groupby("label", observed=True):
        means = part.groupby("session", observed=True)[["acc_x", "acc_y", "acc_z"]].mean()
        out[str(label)] = [(str(s), row.to_numpy(np.float64)) for s, row in means.iterrows()]
    return out


def _swaps(means: dict[str, list[tuple[str, np.ndarray]]], classes: list[str],
           findings: list[str]) -> None:
    """Sessions whose axes look swapped, per class (``means``: :func:`_class_means` joined)."""
    from tinyhar.datasets.checks import swapped_axes

    for label in [c for c in classes if c in means]:
        found = swapped_axes(dict(means[label]))
        for session, mapping, angle in found:
            findings.append(
                f"{session}: during {label} its gravity direction is {angle:.0f} degrees from "
                f"the other recordings' but matches them with {mapping}: the axes look "
                "swapped (board mounted another way, or columns mapped differently); fix the "
                "column mapping or wear the board the same way in every recording")


def _advice(minutes: pd.DataFrame, windows: dict[str, int], classes: list[str]) -> list[str]:
    """Per class: what is missing to reach TARGET_SUBJECTS people and as many times
    TARGET_MINUTES_PER_SUBJECT minutes in all."""
    target = TARGET_MINUTES_PER_SUBJECT
    out = []
    for c in classes:
        per = minutes.loc[c] if c in minutes.index else pd.Series(dtype=float)
        per = per[per > 0]
        more_people = max(0, TARGET_SUBJECTS - len(per))
        need = max(TARGET_SUBJECTS * target - float(per.sum()), more_people * target)
        if need < 0.05:
            continue
        who = (f" from {more_people} more {'person' if more_people == 1 else 'people'}"
               if more_people else " from the people recorded so far")
        out.append(f"record at least {np.ceil(need * 2) / 2:g} more minutes of {c}{who} "
                   f"(aim: {TARGET_SUBJECTS} people, {TARGET_SUBJECTS * target:g} min; now "
                   f"{per.sum():.1f} min from {len(per)} "
                   f"{'person' if len(per) == 1 else 'people'}, {windows.get(c, 0)} windows)")
    return out


def _plots(name: str, classes: list[str], parts: list[_Part], minutes: pd.DataFrame,
           out: Path) -> tuple[list[str], str | None]:
    """Timelines of the first recordings (per-window values of ``parts``) and the minutes."""
    from tinyhar.reporting.plots import _save, plt
    from tinyhar.reporting.timeline import plot_timeline

    figures = []
    sessions = [s for p in parts for s in p.session_names]
    window_s = parts[0].window_s
    starts = np.concatenate([p.starts for p in parts])
    hop_s = float(np.median(np.diff(starts))) if len(starts) > 1 else window_s
    drawn = sessions[:MAX_TIMELINE_FIGURES * SESSIONS_PER_TIMELINE]
    session = np.concatenate([p.sessions for p in parts])
    starts = np.concatenate([p.starts[p.drawn] for p in parts])
    magnitude = np.concatenate([p.magnitude for p in parts])
    labels = np.concatenate([p.labels for p in parts])
    chunks = [drawn[i:i + SESSIONS_PER_TIMELINE]
              for i in range(0, len(drawn), SESSIONS_PER_TIMELINE)]
    for k, chunk in enumerate(chunks, start=1):
        mask = np.isin(session, chunk)
        t0 = {s: starts[session == s].min() for s in chunk}
        rel = starts[mask] - np.array([t0[s] for s in session[mask]])
        figure = f"timeline_{k}.png"
        plot_timeline(session[mask], rel, window_s, hop_s, magnitude[mask],
                      {"label": labels[mask]}, classes, out / figure,
                      title=f"{name}: recordings {k}", max_sessions=SESSIONS_PER_TIMELINE)
        figures.append(figure)
    not_drawn = len(sessions) - len(drawn)
    if minutes.size:
        fig, ax = plt.subplots(figsize=(1.2 + 0.5 * minutes.shape[1], 1.0 + 0.4 * len(minutes)),
                               layout="constrained")
        im = ax.imshow(minutes.to_numpy(), cmap="Blues", aspect="auto")
        ax.set_xticks(range(minutes.shape[1]), minutes.columns, rotation=90, fontsize=7)
        ax.set_yticks(range(len(minutes)), minutes.index, fontsize=8)
        ax.set_xlabel("subject")
        fig.colorbar(im, ax=ax, label="minutes")
        ax.set_title("minutes per class and subject", fontsize=9)
        _save(fig, out / "minutes.png", 120)
        figures.append("minutes.png")
    return figures, (f"{not_drawn} more recordings not drawn" if not_drawn else None)


def _minutes(counts) -> pd.DataFrame:
    """Minutes per class (rows, all classes) and subject (columns: those with labelled
    samples, natural order), from :class:`~tinyhar.datasets.bysession.SampleCounts`."""
    rate = counts.sampling_rate_hz
    subjects = [s for s in counts.subjects
                if any(n for (label, who), n in counts.samples.items()
                       if who == s and label is not None)]
    table = pd.DataFrame(
        [[counts.samples.get((c, s), 0) / rate / 60.0 for s in subjects] for c in counts.classes],
        index=pd.Index(counts.classes, name="label"),
        columns=pd.CategoricalIndex(subjects, categories=pd.Index(counts.subjects, dtype="str"),
                                    name="subject"), dtype=np.float64)
    return table


def _markdown(report: InspectReport, notes: list[str], figures: list[str],
              not_drawn: str | None, window: tuple[float, float]) -> str:
    def table(df: pd.DataFrame, fmt: str = "{:.1f}") -> list[str]:
        cols = [str(c) for c in df.columns]
        lines = ["| " + " | ".join([df.index.name or "", *cols]) + " |",
                 "|" + "---|" * (len(cols) + 1)]
        for idx, row in df.iterrows():
            cells = [fmt.format(v) if isinstance(v, float) else str(v) for v in row]
            lines.append("| " + " | ".join([str(idx), *cells]) + " |")
        return lines

    lines = [f"# Data-quality report: {report.name}", "",
             f"{report.sampling_rate_hz:g} Hz declared; {len(report.sessions)} recording(s), "
             f"{report.minutes.shape[1]} subject(s), {len(report.minutes)} class(es). "
             "Written by `tinyhar inspect`.", ""]
    lines += ["## Findings", ""]
    lines += [f"- {f}" for f in report.findings] or ["- none: timing, units, clipping and "
                                                     "axes look plausible"]
    if notes:
        lines += ["", "Loader notes:", ""] + [f"- {n}" for n in notes]
    lines += ["", "## Advice", ""]
    lines += [f"- {a}" for a in report.advice] or [
        f"- every class has {TARGET_SUBJECTS}+ people with {TARGET_MINUTES_PER_SUBJECT:g}+ "
        "minutes each; `tinyhar learning-curve` tells whether more data would still help"]
    minutes = report.minutes.copy()
    minutes.index.name = "class"
    minutes["total"] = minutes.sum(axis=1)
    lines += ["", "## Minutes per class and subject", ""] + table(minutes)
    wins = pd.DataFrame({"windows": [report.windows_per_class.get(c, 0)
                                     for c in report.minutes.index]},
                        index=pd.Index(report.minutes.index, name="class"))
    lines += ["", f"## Windows per class ({window[0]:g} s windows, hop {window[1]:g} s)", ""]
    lines += table(wins, "{}")
    low = [c for c, n in report.windows_per_class.items() if n < MIN_WINDOWS_PER_CLASS]
    low += [c for c in report.minutes.index if c not in report.windows_per_class]
    if low:
        lines += ["", f"**Warning:** fewer than {MIN_WINDOWS_PER_CLASS} windows for "
                  f"{', '.join(dict.fromkeys(low))}: too few to learn or test; record more."]
    sessions = report.sessions.set_index("session")
    sessions.index.name = "recording"
    lines += ["", "## Recordings (timing, gravity level)", ""]
    lines += table(sessions.rename(columns={"measured_hz": "measured Hz",
                                            "jitter_ms": "jitter (ms)",
                                            "gravity_g": "gravity (g)"}), "{:.3g}")
    lines += ["", "## Plots", ""]
    lines += [f"![{f}]({f})" for f in figures]
    if not_drawn:
        lines += ["", f"({not_drawn}.)"]
    return "\n".join(lines) + "\n"


def inspect_dataset(dataset: str | Path, out: str | Path, path: str | Path | None = None,
                    window: float | None = None, hop: float | None = None) -> InspectReport:
    """Write a data-quality report of one data set (``tinyhar inspect``).

    Parameters
    ----------
    dataset : str or Path
        A registry name (``hapt``), a YAML dataset definition, or a Parquet file.
    out : str or Path
        Report folder (replaced as a whole if it exists and holds a report).
    path : str or Path, optional
        File or folder of a named data set.
    window, hop : float, optional
        Window length and hop in s (default: the training configuration's
        defaults, :class:`tinyhar.config.WindowConfig`).

    Returns
    -------
    InspectReport

    Raises
    ------
    ConfigError
        An unknown data set, an invalid definition, a data set of windows, or
        ``out`` being a file or a folder that is not a report.
    DataFormatError
        A file that cannot be read (the loader's message).
    """
    from tinyhar.config import make_config
    from tinyhar.datasets.bysession import SampleCounts
    from tinyhar.runfolder import replace_folder, sibling_path

    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                              and not (out / REPORT_FILE).is_file())):
        raise ConfigError(f"{out} exists and is not a report folder of tinyhar inspect; "
                          "choose another --out")
    defaults = make_config({}).windows
    window = float(window if window is not None else defaults.window)
    hop = float(hop if hop is not None else defaults.hop)
    inspector = _Inspector(window, hop, dataset)
    parts, notes = _load_parts(dataset, path, inspector, inspector.reset)
    counts = SampleCounts.join([p.counts for p in parts])
    findings = [f for p in parts for f in p.findings]
    sessions = pd.DataFrame([row for p in parts for row in p.rows])
    means: dict[str, list] = {}
    for p in parts:
        for label, rows in p.means.items():
            means.setdefault(label, []).extend(rows)
    _swaps(means, counts.classes, findings)
    per_class = {c: sum(p.windows_per_class.get(c, 0) for p in parts) for c in counts.classes}
    minutes = _minutes(counts)
    report = InspectReport(counts.name, out, counts.sampling_rate_hz, minutes, per_class,
                           sessions, findings, _advice(minutes, per_class, counts.classes))
    tmp = sibling_path(out, "tmp") if out.name else None
    if tmp is None:
        raise ConfigError("--out is an empty path; name a folder, e.g. --out report/")
    tmp.mkdir(parents=True)
    try:
        figures, not_drawn = _plots(counts.name, counts.classes, parts, minutes, tmp)
        (tmp / REPORT_FILE).write_text(_markdown(report, notes, figures, not_drawn,
                                                 (window, hop)), encoding="utf-8")
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report

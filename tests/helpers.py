"""Helpers shared by the tests (importable as ``tests.helpers``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

HAPT_BASIC_COUNTS = {
    "WALKING": 122_091,
    "WALKING_UPSTAIRS": 116_707,
    "WALKING_DOWNSTAIRS": 107_961,
    "SITTING": 126_677,
    "STANDING": 138_105,
    "LAYING": 136_865,
}
"""Labelled samples per basic activity in HAPT (RawData/labels.txt)."""


def make_frame(
    labels: list[tuple[str | None, int]],
    rate: float = 50.0,
    subject: str = "1",
    session: str = "s1",
    t0: float = 0.0,
    gyro: bool = True,
) -> pd.DataFrame:
    """A canonical frame: still device (1 g on z) with label runs ``[(label, n_samples), ...]``."""
    n = sum(k for _, k in labels)
    frame = pd.DataFrame(
        {
            "time": t0 + np.arange(n) / rate,
            "acc_x": np.zeros(n),
            "acc_y": np.zeros(n),
            "acc_z": np.ones(n),
        }
    )
    if gyro:
        for c in ("gyro_x", "gyro_y", "gyro_z"):
            frame[c] = 0.0
    frame["label"] = [lab for lab, k in labels for _ in range(k)]
    frame["subject"] = subject
    frame["session"] = session
    return frame


def bundled_hapt_parquet(folder, subjects: list[str], name: str = "hapt.parquet"):
    """Write these subjects of the bundled HAPT copy as a tinyhar Parquet file; return its path."""
    from tinyhar.datasets.bundled import load_bundled_hapt

    return load_bundled_hapt().select(subjects=subjects).to_parquet(folder / name)


def write_segment_csvs(
    recordings,
    folder,
    labels: list[str] | None = None,
    max_seconds: float | None = None,
    max_takes: int | None = None,
    name: str = "S{subject:0>2}_{label}_{n:02d}.csv",
) -> list:
    """Write each labelled run of a RecordingSet as one CSV file, the way a user's app would.

    Columns ``timestamp_ms, ax, ay, az, gx, gy, gz``: time in whole milliseconds
    since 2020-09-13 (epoch ms, continuous within a session), acceleration in m/s^2
    (4 decimals), angular rate in deg/s (3 decimals); the file name carries the
    subject, the lower-case label and a take number per (subject, label).
    Runs shorter than 1 s are skipped; ``labels`` keeps only those classes and
    ``max_seconds`` cuts each run, ``max_takes`` keeps that many per (subject, label).

    Returns
    -------
    list of Path
        The files written, in order.
    """
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rate = recordings.sampling_rate_hz
    written = []
    takes: dict[tuple[str, str], int] = {}
    for number, (subject, _session, g) in enumerate(recordings.iter_sessions()):
        lab = g["label"].astype(object).where(g["label"].notna(), "").to_numpy()
        run = np.r_[0, np.cumsum(lab[1:] != lab[:-1])]
        t0 = 1_600_000_000_000 + 86_400_000 * number
        index = np.arange(len(g))
        for r in np.unique(run):
            mask = run == r
            label = str(lab[mask][0])
            if not label or mask.sum() < rate or (labels is not None and label not in labels):
                continue
            if max_seconds is not None:
                mask &= np.cumsum(mask) <= int(max_seconds * rate)
            seg = g[mask]
            data = {"timestamp_ms": t0 + np.round(index[mask] * 1000.0 / rate).astype(np.int64)}
            for a in "xyz":
                data["a" + a] = np.round(seg[f"acc_{a}"].to_numpy() * 9.80665, 4)
            for a in "xyz":
                data["g" + a] = np.round(np.degrees(seg[f"gyro_{a}"].to_numpy()), 3)
            key = (str(subject), label)
            takes[key] = takes.get(key, 0) + 1
            if max_takes is not None and takes[key] > max_takes:
                continue
            path = folder / name.format(subject=subject, label=label.lower(), n=takes[key])
            pd.DataFrame(data).to_csv(path, index=False)
            written.append(path)
    return written


APP_CHANNELS = ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
"""Channels the recording app (export/mpy/app_record.py) writes, in order."""


def write_app_recording(folder, name: str, values: np.ndarray, label: str | None = "walk",
                        rate: float = 50.0, **meta):
    """Write a recording in the recording app's layout: ``NAME.csv`` plus sidecar ``NAME.json``.

    ``"%.3f"`` time in s from 0, ``"%.5f"`` values (g, rad/s) in :data:`APP_CHANNELS`
    order, one row per sample of ``values`` (shape ``(n_samples, 6)``); the sidecar
    has the app's keys, ``meta`` overrides them. Returns ``(csv_path, sidecar_path)``.
    """
    import json
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [f"{i / rate:.3f}," + ",".join(f"{v:.5f}" for v in row) + "\n"
            for i, row in enumerate(values)]
    csv = folder / f"{name}.csv"
    csv.write_text("time," + ",".join(APP_CHANNELS) + "\n" + "".join(rows))
    info = {"sampling_rate_hz": rate, "units": {"time": "s", "acc": "g", "gyro": "rad/s"},
            "channels": APP_CHANNELS, "class": label, "start_time": "2026-11-30T10:00:00",
            "n_samples": len(values), "duration_s": len(values) / rate, "complete": True,
            "tinyhar_version": "9.9", "board": "M5StickC PLUS2", "sensor": "MPU6886",
            "firmware": "micropython 1.24.1 (1.24.1)", "classes": ["walk", "run", "rest"]}
    info.update(meta)
    sidecar = folder / f"{name}.json"
    sidecar.write_text(json.dumps(info))
    return csv, sidecar


def tiny_run(out, windows, hop: int, settings: dict | None = None):
    """Write a run folder (pipeline and manifest, no metrics) of a tree pipeline fitted on
    ``windows``; returns ``out``.

    ``settings``: the training configuration (default: minimal features, 3 trees of depth
    at most 4); ``hop``: the training hop in samples (the stream's hop of the exports).
    """
    from tinyhar.config import make_config
    from tinyhar.models.pipeline import PIPELINE_FILE
    from tinyhar.runfolder import write_run
    from tinyhar.training import build_pipeline

    cfg = make_config(settings or {"features": {"set": "minimal"},
                                   "model": {"n_estimators": 3, "max_depth": 4}})
    pipe = build_pipeline(windows, cfg, hop)
    pipe.model.fit(pipe.transform(windows), windows.y)
    with write_run(out) as tmp:
        pipe.save(tmp / PIPELINE_FILE)
    return out


def tiny_bundle(out, subjects=("1",), n_test_windows: int = 12):
    """Export a MicroPython bundle of a tiny tree pipeline (minimal features) trained on HAPT.

    The bundle's classes are HAPT's; ``out`` is the bundle folder. Returns ``out``.
    """
    from tinyhar.config import make_config
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.export.micropython import export_micropython
    from tinyhar.training import build_pipeline
    from tinyhar.windows.windowing import make_windows

    rec = load_bundled_hapt().select(subjects=list(subjects))
    windows, _ = make_windows(rec, window=128, hop=64, unit="samples")
    cfg = make_config({"features": {"set": "minimal"},
                       "model": {"n_estimators": 3, "max_depth": 4}})
    pipe = build_pipeline(windows, cfg, 64)
    pipe.model.fit(pipe.transform(windows), windows.y)
    export_micropython(pipe, out, windows=windows.subset(np.arange(20)),
                       n_test_windows=n_test_windows)
    return out


def board_tools() -> list[str]:
    """mpremote's command prefix; skips the test without mpremote, the unix port or a pty."""
    import os

    import pytest

    from tinyhar.device.deploy import find_mpremote
    from tinyhar.errors import TinyharError
    from tinyhar.export.micropython import find_micropython

    if not hasattr(os, "openpty"):
        pytest.skip("pseudo-terminals need POSIX")
    try:
        find_micropython()
        return find_mpremote()
    except TinyharError as exc:
        pytest.skip(str(exc))


def mpremote_exec(board, code: str) -> str:
    """Run ``code`` on a (simulated) board with ``mpremote connect PORT exec``; its output."""
    import subprocess

    proc = subprocess.run([*board_tools(), "connect", board.port, "exec", code],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout


def has_micropython() -> bool:
    """Whether the MicroPython unix port is installed (tests that run it skip otherwise)."""
    from tinyhar.errors import TinyharError
    from tinyhar.tools import find_micropython

    try:
        find_micropython()
    except TinyharError:
        return False
    return True


def assert_close_tree(a, b, path: str = "") -> None:
    """Assert two JSON-like trees equal: texts, ints and bools exactly, floats within 1e-9.

    For results of two paths that compute the same numbers in another order
    (sums over sessions), where only the float rounding may differ.
    """
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for k in a:
            assert_close_tree(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close_tree(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-12, nan_ok=True), path
    else:
        assert a == b, path


def joined_batches(source, rows: int, own_categories: bool = False, **options) -> list:
    """The batches of a session source at ``rows`` per batch, checked to equal its whole read.

    Joined in order, the batches' frames must equal :meth:`SessionSource.load`'s frame
    exactly (warnings of either read are recorded, not shown). ``own_categories``: the
    batches' subject and session categories are their own (several sessions per source:
    restarts, sessions from a column), so those columns are compared as text, and each
    batch's session categories must be exactly the sessions it holds, in order. ``options``
    go to both reads (``checks``, ``session_prefix``).
    """
    import warnings

    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        batches = list(source.iter_batches(batch_rows=rows, **options))
        whole = source.load(**options)
    joined = pd.concat([b.frame for b in batches], ignore_index=True)
    expected = whole.frame
    if own_categories:
        for b in batches:
            session = b.frame["session"]
            assert list(session.cat.categories) == list(pd.unique(session))
        joined, expected = (f.astype({"subject": str, "session": str}) for f in (joined,
                                                                                  expected))
    pd.testing.assert_frame_equal(joined, expected)
    return batches


def train_streams_run(definition, out, test_subjects=("s003", "s004")):
    """A small in-memory tree run with HMM smoothing and probability rejection, for the
    per-session stream paths (``predict``, ``evaluate --continuous``); returns ``out``."""
    from tinyhar.config import make_config
    from tinyhar.training import train

    cfg = make_config({
        "dataset": {"name": str(definition)},
        "evaluation": {"test_subjects": list(test_subjects), "cv_folds": 2},
        "postprocess": {"smoothing": "hmm", "reject": "probability"},
        "compute": {"out_of_core": False},
    }, "test")
    train(cfg, out)
    return out


SPY_ON_DISPATCH = """
import sys
from tinyhar import compute
seen = []
run = compute.map_in_order

def spy(func, items, *args, head=None, **kwargs):
    def first():  # called once the other tasks are with the workers
        seen.append("sklearn" in sys.modules)
        return head()
    return run(func, items, *args, head=first if head else None, **kwargs)

compute.map_in_order = spy
"""
"""Code to run first in a subprocess: for each task map with a first task of this process
(:func:`tinyhar.compute.map_in_order`'s ``head``) it appends to ``seen`` whether
scikit-learn was imported when the other tasks had gone to the workers."""

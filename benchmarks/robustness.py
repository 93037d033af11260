"""Robustness benchmark: a fixed catalogue of bad inputs and faults (issue 8, part 12).

``python benchmarks/robustness.py --json`` runs every case and prints one JSON
object ``{"cases": N, "good_error": N, "ok": N, "crash": N, "silent_wrong": N,
"lost_state": N}``. Without ``--json`` it prints a table of every case and its
outcome, failures first, and the runtime. ``--only PATTERN`` runs the cases
whose name or group contains PATTERN (a regular expression); ``--list`` lists
the cases without running them. Target: crash, silent_wrong and lost_state 0.

What a case is
--------------
A case builds its inputs in a fresh temporary folder (from a few shared
fixtures: four subjects of the bundled HAPT copy as a tinyhar Parquet file and
as CSV files with a YAML dataset definition, a small HAPT-layout zip cut from
the real archive, a small UCI HAR zip, and a trained run folder used as a
template), runs the real command line in a subprocess
(``[sys.executable, "-m", "tinyhar", ...]``, so ``PYTHONPATH`` decides which
sources run) or a few lines of the Python API in a subprocess, and declares
what a user should get:

``error``
    exit status 2, no traceback, and the output names what is wrong: the
    case's ``needle`` (a case-insensitive regular expression: the file, the
    key, the value) occurs in the output.
``ok``
    exit status 0, no traceback, and the case's ``check`` of the result
    passes (a value in ``metrics.json``, the subjects scored, a warning that
    must be printed, ...).
``either``
    only where the issue leaves the choice open: a clean error as for
    ``error`` or a success as for ``ok`` (whose check then applies, typically
    "a warning naming the file was printed").
``fault``
    the harness itself interrupts the command (SIGINT, SIGKILL), runs two
    trainings into one folder, or makes writes fail (RLIMIT_FSIZE); what is
    judged is the state left behind (``state``), and that a SIGINT ends the
    process within the time limit without a traceback.

Outcome classes (each case gets exactly one; the first rule that applies wins)
-----------------------------------------------------------------------------
``lost_state``
    the case's state check failed: after the fault (or bad input) a run
    folder is half-written, mixes files of two runs, lost a previous complete
    run or a computed result (metrics gone after a failing figure write), or
    a crafted model/data file executed code (its marker file appeared).
``crash``
    the tool did not end cleanly: a Python traceback in the output, a signal
    the harness did not send, a hang past the time limit, an exit status
    other than 0 and 2 (click's "Aborted!" is 1), or a *false refusal*: exit
    status 2 on an input that the issue requires to be accepted (``ok``
    cases) -- the user was blamed for a failure of the tool.
``silent_wrong``
    the user was not told the truth: exit status 0 where an error is
    required, a successful run whose check failed (wrong subjects scored, no
    warning where one is required, wrong class count), or an error whose
    message does not name what is wrong (the needle is missing, or a
    forbidden text such as an unformatted ``{type(raw).__name__}`` appears):
    a misleading message is as bad as none.
``good_error``
    an ``error`` (or ``either``) case ended as required: exit 2, message
    naming the file/key/value, no traceback.
``ok``
    an ``ok`` (or ``either``, or ``fault``) case ended as required.

Nothing here hard-codes what other parts of issue 8 may rename: the pipeline
file of a run folder is ``tinyhar.models.pipeline.PIPELINE_FILE`` when that
constant exists (else ``tinyhar.training.PIPELINE_FILE``, else
``pipeline.joblib``), ``--overwrite`` is passed to ``train`` only when its
``--help`` lists it, and ``tinyhar.runfolder.load_run`` is used to verify a
folder when that module exists.

Runtime: about 14 CPU-minutes (most of it is starting Python and importing
tinyhar once per command); cases run two at a time, so about 7 minutes on two
idle cores and 11 on the shared 2-core reference machine.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import io
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

OUTCOMES = ("good_error", "ok", "crash", "silent_wrong", "lost_state")
WORKERS = 2
TIMEOUT_S = 120


def _data_dir() -> Path:
    """Where the real archives are: $TINYHAR_DATA, else ../shared/data as tinyhar looks it up."""
    here = Path(__file__).resolve().parents[1]
    for cand in (os.environ.get("TINYHAR_DATA"), here.parent / "shared" / "data",
                 here.parent.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"):
        if cand and (Path(cand) / "HAPT Data Set.zip").is_file():
            return Path(cand)
    raise SystemExit("HAPT Data Set.zip not found: set TINYHAR_DATA to the shared data folder")


# ---------------------------------------------------------------------------------------------
# results and their classification


@dataclass
class Result:
    """What one subprocess gave: exit status (None: killed by the harness's timeout)."""

    rc: int | None
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def output(self) -> str:
        return self.stdout + "\n" + self.stderr


@dataclass
class Case:
    """One entry of the catalogue (see the module docstring)."""

    name: str
    group: str
    expect: str  # error | ok | either | fault
    run: Callable[[Ctx, Path], Result]
    needle: str | None = None
    forbid: tuple[str, ...] = ()
    check: Callable[[Ctx, Path, Result], str | None] | None = None
    state: Callable[[Ctx, Path, Result], str | None] | None = None
    note: str = ""


@dataclass
class Outcome:
    name: str
    group: str
    outcome: str
    reason: str
    seconds: float


def _has_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" in text


def _find(pattern: str, text: str, unwrap: bool = True) -> bool:
    """Whether ``pattern`` occurs in ``text`` (case-insensitive).

    With ``unwrap`` the text is also searched with its line breaks removed or
    turned into spaces, so that a file name broken over two lines by a
    narrow console still counts.
    """
    if not unwrap:
        return re.search(pattern, text, re.IGNORECASE) is not None
    flat = text.replace("\n", "")
    spaced = re.sub(r"\s+", " ", text)
    return any(re.search(pattern, t, re.IGNORECASE) for t in (text, flat, spaced))


def classify(
    expect: str,
    result: Result,
    needle: str | None = None,
    forbid: tuple[str, ...] = (),
    check_failure: str | None = None,
    state_failure: str | None = None,
) -> tuple[str, str]:
    """Map one case's result to ``(outcome, reason)`` by the rules of the module docstring.

    Parameters
    ----------
    expect : {"error", "ok", "either", "fault"}
        What the case requires.
    result : Result
        Exit status and output of the command (for ``fault`` cases: of the
        interrupted command; ``rc`` is then whatever the signal gave).
    needle : str, optional
        Regular expression an error message must match (case-insensitive).
    forbid : tuple of str
        Plain texts an error message must not contain.
    check_failure : str, optional
        Why the success check failed (None: passed or not applicable).
    state_failure : str, optional
        Why the state check failed (None: state is fine).

    Returns
    -------
    tuple of str
        One of :data:`OUTCOMES` and a short reason.
    """
    text = result.output
    if state_failure:
        return "lost_state", state_failure
    if result.timed_out:
        return "crash", "hang: no exit within the time limit"
    if _has_traceback(text):
        last = [ln for ln in text.strip().splitlines() if ln.strip()]
        return "crash", "traceback: " + (last[-1].strip()[:160] if last else "")
    if expect == "fault":
        if result.rc not in (0, 2, 130):
            return "crash", f"exit status {result.rc}: {_last_line(text)}"
        missed = "trigger not reached" in result.stderr
        return "ok", "state intact" + (" (trigger not reached: the command ended first)"
                                       if missed else "")
    if result.rc is not None and result.rc < 0:
        return "crash", f"killed by signal {-result.rc}"
    if result.rc not in (0, 2):
        return "crash", f"exit status {result.rc}: {_last_line(text)}"
    if result.rc == 2:
        if expect == "ok":
            return "crash", f"false refusal (exit 2): {_error_line(text)}"
        for bad in forbid:
            if bad in text:
                return "silent_wrong", f"message contains {bad!r}: {_last_line(text)}"
        if "error" not in text.lower():
            return "silent_wrong", "exit 2 without an error message"
        if needle and not _find(needle, text):
            return "silent_wrong", f"message does not name /{needle}/: {_error_line(text)}"
        return "good_error", _error_line(text)
    # exit status 0
    if expect == "error":
        return "silent_wrong", "exit 0 where an error is required"
    if check_failure:
        return "silent_wrong", check_failure
    return "ok", "succeeded"


def _last_line(text: str) -> str:
    """The last line with a letter or digit, without rich's box-drawing frame."""
    lines = [ln.strip(" │╭╮╰╯─") for ln in text.strip().splitlines()]
    lines = [ln for ln in lines if re.search(r"\w", ln)]
    return lines[-1][:160] if lines else ""


def _error_line(text: str) -> str:
    lines = [ln.strip(" │╭╮╰╯─") for ln in text.splitlines()]
    for i, ln in enumerate(lines):
        if "error" in ln.lower() and ln.strip():
            joined = " ".join(x for x in lines[i : i + 3] if x)
            return joined[:200]
    return _last_line(text)


# ---------------------------------------------------------------------------------------------
# running commands


def _env() -> dict:
    """The environment of every command: wide, plain output; PYTHONPATH made absolute.

    Commands run in their case's temporary folder, so a relative ``PYTHONPATH``
    (``PYTHONPATH=src``) is resolved against the folder the benchmark started in.
    """
    env = dict(os.environ)
    if env.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.pathsep.join(
            str(Path(p).resolve()) if p else p for p in env["PYTHONPATH"].split(os.pathsep))
    env.update({"COLUMNS": "400", "TERM": "dumb", "MPLBACKEND": "Agg", "NO_COLOR": "1"})
    env.setdefault("TINYHAR_DATA", str(_data_dir()))
    env.pop("FORCE_COLOR", None)
    return env


def run_cmd(
    argv: list[str],
    cwd: Path,
    timeout: float = TIMEOUT_S,
    preexec: Callable[[], None] | None = None,
) -> Result:
    """Run a command, capturing its output; a hang past ``timeout`` is killed and flagged."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, errors="replace", preexec_fn=preexec, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        return Result(proc.returncode, out, err, False, time.perf_counter() - t0)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return Result(None, out, err, True, time.perf_counter() - t0)


def tinyhar(*args: str) -> list[str]:
    """The real command line, in a subprocess of this interpreter."""
    return [sys.executable, "-m", "tinyhar", *map(str, args)]


API_PRELUDE = """
import sys
from tinyhar.errors import TinyharError
def _main():
{body}
try:
    _main()
except TinyharError as exc:
    print(f"error: {{exc}}", file=sys.stderr)
    sys.exit(2)
"""


def api(code: str) -> list[str]:
    """A Python API call in a subprocess: TinyharError -> ``error:`` and exit 2."""
    body = textwrap.indent(textwrap.dedent(code).strip(), "    ")
    return [sys.executable, "-c", API_PRELUDE.format(body=body)]


# ---------------------------------------------------------------------------------------------
# shared fixtures


@dataclass
class Ctx:
    """Shared fixtures, prepared once per benchmark run."""

    base: Path
    pipeline_file: str = "pipeline.joblib"
    has_overwrite: bool = False
    has_runfolder: bool = False
    train_help: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def tiny(self) -> Path:
        return self.base / "tiny.parquet"

    @property
    def run(self) -> Path:
        return self.base / "run_template"

    @property
    def run2(self) -> Path:
        return self.base / "run_template2"

    @property
    def csv_dir(self) -> Path:
        return self.base / "csv"

    @property
    def hapt_zip(self) -> Path:
        return self.base / "hapt_small.zip"

    @property
    def uci_zip(self) -> Path:
        return self.base / "uci_small.zip"


PREP = """
import json, sys
from pathlib import Path
from tinyhar.datasets.bundled import load_bundled_hapt
base = Path(sys.argv[1])
rs = load_bundled_hapt().select(subjects=["1", "2", "3", "4"])
rs.to_parquet(base / "tiny.parquet")
rs.frame.to_parquet(base / "tiny_frame.parquet")
try:
    from tinyhar.models.pipeline import PIPELINE_FILE
except ImportError:
    try:
        from tinyhar.training import PIPELINE_FILE
    except ImportError:
        PIPELINE_FILE = "pipeline.joblib"
try:
    import tinyhar.runfolder  # noqa: F401
    has_runfolder = True
except ImportError:
    has_runfolder = False
print(json.dumps({"pipeline_file": PIPELINE_FILE, "has_runfolder": has_runfolder}))
"""


def base_config(ctx: Ctx, **over) -> dict:
    """A tiny training configuration on the four-subject Parquet file (absolute paths)."""
    cfg = {
        "seed": 0,
        "dataset": {"name": str(ctx.tiny)},
        "model": {"n_estimators": 3, "max_depth": 4},
        "evaluation": {"test_subjects": ["4"], "cv_folds": 0},
    }
    for key, value in over.items():
        _set_path(cfg, key.split("."), value)
    return cfg


def _set_path(cfg: dict, path: list[str], value) -> None:
    node = cfg
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value


def then(_done, value):
    """``value``, after the side effect that built the first argument (for one-line setups)."""
    return value


def write_yaml(path: Path, data) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def prepare(base: Path) -> Ctx:
    """Write the shared fixtures and train the template runs (about 20 s)."""
    ctx = Ctx(base)
    base.mkdir(parents=True)
    res = run_cmd([sys.executable, "-c", PREP, str(base)], base)
    if res.rc != 0:
        raise SystemExit(f"fixture preparation failed:\n{res.output}")
    info = json.loads(res.stdout.strip().splitlines()[-1])
    ctx.pipeline_file = info["pipeline_file"]
    ctx.has_runfolder = info["has_runfolder"]
    ctx.train_help = run_cmd(tinyhar("train", "--help"), base).stdout
    ctx.has_overwrite = "--overwrite" in ctx.train_help
    # CSV files of subjects 1 and 2 (4 sessions) for dataset definitions
    frame = pd.read_parquet(base / "tiny_frame.parquet")
    ctx.csv_dir.mkdir()
    for (subject, session), part in frame.groupby(["subject", "session"], observed=True):
        if subject not in ("1", "2"):
            continue
        part = part.iloc[:9000]
        out = pd.DataFrame({
            "t": part["time"].round(4), "ax": part["acc_x"], "ay": part["acc_y"],
            "az": part["acc_z"], "gx": part["gyro_x"], "gy": part["gyro_y"],
            "gz": part["gyro_z"], "act": part["label"].astype(object).fillna(""),
        })
        out.to_csv(ctx.csv_dir / f"s{subject}_{session}.csv", index=False, float_format="%.6g")
    # template runs: trained in parallel
    cfg1 = write_yaml(base / "cfg1.yaml", base_config(ctx))
    cfg2 = write_yaml(base / "cfg2.yaml", base_config(ctx, seed=1, **{"model.n_estimators": 5}))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        jobs = [
            pool.submit(run_cmd, tinyhar("train", "--config", c, "--out", o), base)
            for c, o in ((cfg1, ctx.run), (cfg2, ctx.run2))
        ]
        for job in jobs:
            r = job.result()
            if r.rc != 0:
                raise SystemExit(f"template training failed:\n{r.output}")
    _hapt_small(ctx.hapt_zip)
    _uci_small(ctx.uci_zip)
    return ctx


def _hapt_small(dest: Path) -> None:
    """Users 1 and 2 (experiments 1-4) of the real HAPT archive, same layout."""
    hapt = _data_dir() / "HAPT Data Set.zip"
    with zipfile.ZipFile(hapt) as src, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        for exp, user in ((1, 1), (2, 1), (3, 2), (4, 2)):
            for s in ("acc", "gyro"):
                name = f"RawData/{s}_exp{exp:02d}_user{user:02d}.txt"
                z.writestr(name, src.read(name))
        labels = src.read("RawData/labels.txt").decode().splitlines()
        keep = [ln for ln in labels if ln.split() and int(ln.split()[0]) <= 4]
        z.writestr("RawData/labels.txt", "\n".join(keep) + "\n")
        z.writestr("activity_labels.txt", src.read("activity_labels.txt"))


def _uci_small(dest: Path) -> None:
    """The first 30 train and 20 test windows of the real UCI HAR archive, same layout."""
    root = "UCI HAR Dataset/"
    uci = _data_dir() / "UCI HAR Dataset.zip"
    with zipfile.ZipFile(uci) as src, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(root + "activity_labels.txt", src.read(root + "activity_labels.txt"))
        for split, n in (("train", 30), ("test", 20)):
            names = [f"{split}/y_{split}.txt", f"{split}/subject_{split}.txt"] + [
                f"{split}/Inertial Signals/{s}_{a}_{split}.txt"
                for s in ("total_acc", "body_acc", "body_gyro") for a in "xyz"
            ]
            for name in names:
                lines = src.read(root + name).decode().splitlines(keepends=True)[:n]
                z.writestr(root + name, "".join(lines))


# ---------------------------------------------------------------------------------------------
# helpers used by cases


def copy_run(ctx: Ctx, tmp: Path, name: str = "run_case", src: Path | None = None) -> Path:
    dest = tmp / name
    shutil.copytree(src or ctx.run, dest)
    return dest


def pipeline_path(run: Path, ctx: Ctx) -> Path:
    p = run / ctx.pipeline_file
    if p.exists():
        return p
    found = sorted(run.glob("pipeline*"))
    return found[0] if found else p


def tree_hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


CONSISTENCY = """
import json, sys
from pathlib import Path
import yaml
run, pipe_name = Path(sys.argv[1]), sys.argv[2]
problems = []
for name in ("config.yaml", "metrics.json", "summary.md", pipe_name):
    if not (run / name).is_file():
        problems.append(f"{name} missing")
if problems:
    print("BAD: " + "; ".join(problems)); sys.exit(0)
try:
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    m = json.loads((run / "metrics.json").read_text())
except Exception as exc:
    print(f"BAD: unreadable config/metrics: {exc!r}"); sys.exit(0)
if m.get("seed") != cfg.get("seed"):
    problems.append(f"metrics seed {m.get('seed')} != config seed {cfg.get('seed')}")
trees = (m.get("model_size") or {}).get("trees")
if trees is not None and trees != cfg["model"]["n_estimators"]:
    problems.append(f"metrics trees {trees} != config n_estimators {cfg['model']['n_estimators']}")
summary = (run / "summary.md").read_text()
if f"{m['macro_f1']:.3f}" not in summary:
    problems.append("summary.md does not show metrics.json's macro-F1")
try:
    try:
        from tinyhar.runfolder import load_run
        pipeline = load_run(run).pipeline
    except ImportError:
        from tinyhar.models.pipeline import HarPipeline
        pipeline = HarPipeline.load(run / pipe_name)
except Exception as exc:
    problems.append(f"run folder does not load: {exc!r}"[:200])
else:
    info = getattr(pipeline, "info", None) or {}
    if info.get("config") and info["config"] != cfg:
        problems.append("pipeline was trained with another config than config.yaml")
print("BAD: " + "; ".join(problems) if problems else "OK")
"""


CHECK_MEMORY_BYTES = 6 * 2**30
"""Address-space limit of the folder check: a mixed model file can ask for hundreds of GiB."""


def _memory_limit(n_bytes: int) -> Callable[[], None]:
    def pre() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (n_bytes, n_bytes))
    return pre


def folder_problem(ctx: Ctx, folder: Path) -> str | None:
    """None if ``folder`` is one complete, self-consistent run; else what is wrong."""
    res = run_cmd([sys.executable, "-c", CONSISTENCY, str(folder), ctx.pipeline_file], folder,
                  timeout=90, preexec=_memory_limit(CHECK_MEMORY_BYTES))
    lines = res.stdout.strip().splitlines()
    if res.rc != 0 or not lines or not lines[-1].startswith(("OK", "BAD: ")):
        why = "hang" if res.timed_out else f"exit status {res.rc}"
        return f"loading the folder failed ({why}): {_last_line(res.output)}"
    return None if lines[-1] == "OK" else lines[-1].removeprefix("BAD: ")


def _is_absent(folder: Path) -> bool:
    return not folder.exists() or (folder.is_dir() and not any(folder.iterdir()))


def run_state(
    ctx: Ctx, out: Path, previous: dict | None = None, allowed_seeds: set | None = None,
    need_present: bool = False,
) -> str | None:
    """The state rule after a fault: ``out`` absent, or one complete consistent run.

    ``previous`` (file hashes of the run that was there before) may be kept
    unchanged; ``allowed_seeds`` restricts which run a complete folder may be.
    """
    if _is_absent(out):
        return f"{out.name} absent: results lost" if need_present else None
    if previous is not None and tree_hashes(out) == previous:
        return None
    problem = folder_problem(ctx, out)
    if problem:
        return f"{out.name} left inconsistent: {problem}"
    if allowed_seeds is not None:
        seed = yaml.safe_load((out / "config.yaml").read_text()).get("seed")
        if seed not in allowed_seeds:
            return f"{out.name} holds a run with seed {seed}, expected one of {allowed_seeds}"
    return None


def marker_state(marker: Path) -> Callable[[Ctx, Path, Result], str | None]:
    def state(ctx: Ctx, tmp: Path, res: Result) -> str | None:
        if marker.exists():
            return "code from a data/model file was executed (marker file created)"
        return None
    return state


def json_stdout(res: Result) -> dict | None:
    text = res.stdout.strip()
    start = text.find("{")
    if start < 0:
        return None
    try:
        return json.loads(text[start:])
    except json.JSONDecodeError:
        return None


def need_output(pattern: str, what: str) -> Callable[[Ctx, Path, Result], str | None]:
    """A success check: ``pattern`` (regex) must occur in the output."""
    def check(ctx: Ctx, tmp: Path, res: Result) -> str | None:
        return None if _find(pattern, res.output, unwrap=False) else f"no {what} in the output"
    return check


def train_argv(ctx: Ctx, cfg: Path, out: Path, *extra: str, overwrite: bool = False) -> list:
    args = ["train", "--config", cfg, "--out", out, *extra]
    if overwrite and ctx.has_overwrite:
        args.append("--overwrite")
    return tinyhar(*args)


# ---------------------------------------------------------------------------------------------
# catalogue builders

CASES: list[Case] = []


def add(case: Case) -> None:
    CASES.append(case)


def cli(
    name: str, group: str, expect: str, setup: Callable[[Ctx, Path], list], needle=None,
    check=None, state=None, forbid=(), timeout=TIMEOUT_S, note="",
) -> None:
    """A case that builds inputs with ``setup`` (returning the argv) and runs it once."""
    def run(ctx: Ctx, tmp: Path) -> Result:
        return run_cmd(setup(ctx, tmp), tmp, timeout=timeout)
    add(Case(name, group, expect, run, needle, tuple(forbid), check, state, note))


# -- dataset definitions on CSV files -----------------------------------------------------------

GOOD_DEF = {
    "name": "csvset",
    "files": "csv/*.csv",
    "sampling_rate_hz": 50,
    "columns": {
        "time": "t", "acc_x": "ax", "acc_y": "ay", "acc_z": "az",
        "gyro_x": "gx", "gyro_y": "gy", "gyro_z": "gz", "label": "act",
    },
    "file_pattern": r"s(?P<subject>\d+)_(?P<session>exp\d+)\.csv",
    "ignore_labels": [""],
}
FIRST_CSV = "s1_exp01.csv"


def csv_def(ctx: Ctx, tmp: Path, mutate_def=None, mutate_file=None, fname: str = FIRST_CSV,
            def_name: str = "def.yaml") -> Path:
    """Copy the CSV files into ``tmp/csv``, apply the mutations, write the definition."""
    shutil.copytree(ctx.csv_dir, tmp / "csv")
    d = json.loads(json.dumps(GOOD_DEF))
    if mutate_def:
        d = mutate_def(d) or d
    if mutate_file:
        mutate_file(tmp / "csv" / fname)
    return write_yaml(tmp / def_name, d)


def describe(def_path: Path) -> list:
    return tinyhar("datasets", def_path)


def train_on(ctx: Ctx, tmp: Path, dataset: Path, extra_cfg: dict | None = None,
             test_subjects=("2",)) -> list:
    cfg = base_config(ctx, **{"dataset.name": str(dataset),
                              "evaluation.test_subjects": list(test_subjects)})
    for k, v in (extra_cfg or {}).items():
        _set_path(cfg, k.split("."), v)
    path = write_yaml(tmp / "cfg.yaml", cfg)
    return tinyhar("train", "--config", path, "--out", tmp / "out")


def edit_csv(fn: Callable[[pd.DataFrame], pd.DataFrame | None], **to_csv) -> Callable:
    def mutate(path: Path) -> None:
        df = pd.read_csv(path, keep_default_na=False, dtype=str)
        new = fn(df)
        (df if new is None else new).to_csv(path, index=False, **to_csv)
    return mutate


def set_cell(col: str, row: int, value: str) -> Callable:
    def fn(df):
        df.loc[row, col] = value
        return df
    return edit_csv(fn)


def raw_bytes(data: bytes) -> Callable:
    def mutate(path: Path) -> None:
        path.write_bytes(data)
    return mutate


def text_edit(fn: Callable[[str], str], encoding="utf-8") -> Callable:
    def mutate(path: Path) -> None:
        path.write_bytes(fn(path.read_text()).encode(encoding))
    return mutate


def _csv_cases() -> None:
    f = FIRST_CSV.replace(".", r"\.")
    bad_file = [
        ("empty_file", raw_bytes(b"")),
        ("header_only", text_edit(lambda t: t.splitlines()[0] + "\n")),
        ("missing_column_az", edit_csv(lambda df: df.drop(columns=["az"]))),
        ("text_in_number", set_cell("ax", 10, "abc")),
        ("inf_value", set_cell("ay", 500, "inf")),
        ("huge_value_1e30", set_cell("ax", 700, "1e30")),
        ("huge_gyro_1e30", set_cell("gx", 700, "1e30")),
        ("huge_integer_text", set_cell("az", 700, "9" * 40)),
        ("wrong_delimiter", text_edit(lambda t: t.replace(",", ";"))),
        ("decimal_comma", text_edit(lambda t: t.replace(",", ";").replace(".", ","))),
        ("non_utf8_label", text_edit(lambda t: t.replace("WALKING\n", "WALK\xc9\n", 1),
                                     encoding="latin-1")),
        ("binary_garbage", raw_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096,
                                                                           dtype=np.uint8)))),
        ("nul_bytes", raw_bytes(b"t,ax,ay,az\x00\x00\x00\n\x00\x00")),
        ("short_row", text_edit(lambda t: _replace_line(t, 50, "0.98,0.1"))),
        ("extra_field_row", text_edit(lambda t: _replace_line(t, 50, t.splitlines()[50] + ",7,8"))),
        ("duplicate_column_ax", text_edit(lambda t: t.replace("ay", "ax", 1))),
        ("time_as_text", edit_csv(lambda df: df.assign(t="noon"))),
        ("all_gyro_empty", edit_csv(lambda df: df.assign(gx=""))),
        ("html_instead_of_csv", raw_bytes(b"<!DOCTYPE html><html><body>404</body></html>\n")),
    ]
    for name, mutate in bad_file:
        cli(f"csv_{name}", "csv", "error",
            lambda ctx, tmp, m=mutate: describe(csv_def(ctx, tmp, mutate_file=m)), needle=f)
    hapt_classes = ["WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING",
                    "LAYING"]
    cli("csv_label_outside_classes", "csv", "error",
        lambda ctx, tmp: describe(csv_def(
            ctx, tmp, mutate_def=lambda d: {**d, "classes": hapt_classes},
            mutate_file=set_cell("act", 900, "FLYING"))), needle=r"FLYING")
    cli("csv_nan_value", "csv", "either",
        lambda ctx, tmp: describe(csv_def(ctx, tmp, mutate_file=set_cell("ax", 300, "nan"))),
        needle=f, check=need_output(f, "warning naming the file"),
        note="a NaN sample: an error, or a warning naming the file (e.g. treated as a gap)")
    cli("csv_empty_cells", "csv", "either",
        lambda ctx, tmp: describe(csv_def(ctx, tmp, mutate_file=set_cell("ay", 300, ""))),
        needle=f, check=need_output(f, "warning naming the file"))
    ok_file = [
        ("utf8_bom", text_edit(lambda t: "\ufeff" + t)),
        ("crlf_line_ends", text_edit(lambda t: t.replace("\n", "\r\n"))),
        ("quoted_numbers", text_edit(lambda t: _quote_line(t, 20))),
        ("columns_reordered", edit_csv(lambda df: df[list(reversed(df.columns))])),
    ]
    for name, mutate in ok_file:
        cli(f"csv_{name}", "csv", "ok",
            lambda ctx, tmp, m=mutate: describe(csv_def(ctx, tmp, mutate_file=m)),
            check=need_output(r"2 subjects", "description of the 2 subjects"))
    cli("csv_control_train", "csv", "ok",
        lambda ctx, tmp: train_on(ctx, tmp, csv_def(ctx, tmp)),
        check=lambda ctx, tmp, res: _metrics_check(tmp / "out"))


def _replace_line(text: str, i: int, new: str) -> str:
    lines = text.splitlines()
    lines[i] = new
    return "\n".join(lines) + "\n"


def _quote_line(text: str, i: int) -> str:
    lines = text.splitlines()
    lines[i] = ",".join(f'"{v}"' for v in lines[i].split(","))
    return "\n".join(lines) + "\n"


def _metrics_check(out: Path, classes: int | None = None, subjects=None) -> str | None:
    path = out / "metrics.json"
    if not path.is_file():
        return f"no {path.name} written"
    m = json.loads(path.read_text())
    if classes is not None and len(m.get("classes", [])) != classes:
        return f"{len(m.get('classes', []))} classes, expected {classes}"
    if subjects is not None and [str(s) for s in m.get("test_subjects", [])] != subjects:
        return f"test subjects {m.get('test_subjects')}, expected {subjects}"
    return None


# -- dataset definitions: keys and values ---------------------------------------------------------

def _definition_cases() -> None:
    def d(name, mutate, needle, expect="error", forbid=()):
        cli(f"definition_{name}", "definition", expect,
            lambda ctx, tmp, m=mutate: describe(csv_def(ctx, tmp, mutate_def=m)),
            needle=needle, forbid=forbid)

    def setk(path, value):
        def m(dd):
            _set_path(dd, path.split("."), value)
        return m

    def delk(path):
        def m(dd):
            node = dd
            parts = path.split(".")
            for p in parts[:-1]:
                node = node[p]
            node.pop(parts[-1])
        return m

    d("files_missing_key", delk("files"), r"files")
    d("files_match_nothing", setk("files", "nothere/*.csv"), r"nothere")
    d("files_empty_list", setk("files", []), r"files")
    d("files_a_folder", setk("files", "csv"), r"csv")
    d("format_xlsx", setk("format", "xlsx"), r"format")
    d("rate_missing", delk("sampling_rate_hz"), r"sampling_rate_hz")
    for label, value in (("zero", 0), ("text", "fast"), ("1e300", 1e300), ("inf", float("inf"))):
        d(f"rate_{label}", setk("sampling_rate_hz", value), r"sampling.rate")
    d("columns_missing", delk("columns"), r"columns")
    d("columns_missing_acc_x", delk("columns.acc_x"), r"acc_x")
    d("columns_unknown_name", setk("columns.acc_y", "accel_y"), r"accel_y")
    d("columns_position_out_of_range", setk("columns.acc_z", 99), r"99|acc_z")
    d("columns_two_gyro", delk("columns.gyro_z"), r"gyro")
    d("columns_unknown_key", setk("columns.magnet_x", "mx"), r"magnet_x")
    d("columns_same_for_two", setk("columns.acc_y", "ax"), r"ax|acc_y")
    d("unknown_top_key", setk("sampling_rate", 50), r"sampling_rate\b")
    d("units_acc_furlongs", setk("units.acc", "furlongs"), r"furlongs")
    d("units_raw_bits_99", setk("units.acc", {"full_scale": 2, "bits": 99}), r"bits")
    d("units_raw_full_scale_0", setk("units.acc", {"full_scale": 0, "bits": 16}),
      r"full_scale")
    d("pattern_bad_regex", setk("file_pattern", "s(?P<subject>\\d+"), r"file_pattern")
    d("pattern_unknown_group", setk("file_pattern", r"s(?P<user>\d+)_.*"), r"user")
    d("pattern_not_matching", setk("file_pattern", r"x(?P<subject>\d+)\.csv"),
      r"s1_exp01|file_pattern")
    d("subject_two_sources", setk("constants.subject", "7"), r"subject")
    d("no_subject", setk("file_pattern", r"s\d+_(?P<session>exp\d+)\.csv"), r"subject")
    d("classes_missing_label", setk("classes", ["WALKING", "SITTING"]), r"STANDING|LAYING|WALK")
    d("csv_delimiter_empty", setk("csv.delimiter", ""), r"delimiter")
    d("csv_skip_rows_negative", setk("csv.skip_rows", -1), r"skip_rows")
    d("csv_encoding_unknown", setk("csv.encoding", "klingon-8"), r"klingon|encoding")
    d("csv_header_false", setk("csv.header", False), r"s1_exp01|header|\bt\b")
    # definition files that are not mappings or not readable
    for label, content, needle in (
        ("empty", b"", r"def\.yaml"),
        ("list", b"- files\n- columns\n", r"def\.yaml"),
        ("scalar", b"hello\n", r"def\.yaml"),
        ("invalid_yaml", b"files: [csv/*.csv\ncolumns: {\n", r"def\.yaml"),
        ("tab_indent", b"files: csv/*.csv\ncolumns:\n\tacc_x: ax\n", r"def\.yaml"),
        ("non_utf8", "name: caf\xe9\nfiles: csv/*.csv\n".encode("latin-1"), r"def\.yaml"),
        ("duplicate_keys", b"files: a.csv\nfiles: b.csv\n", r"def\.yaml|files"),
    ):
        def setup(ctx, tmp, content=content):
            shutil.copytree(ctx.csv_dir, tmp / "csv")
            (tmp / "def.yaml").write_bytes(content)
            return describe(tmp / "def.yaml")
        add(Case(f"definition_file_{label}", "definition", "error",
                 lambda ctx, tmp, s=setup: run_cmd(s(ctx, tmp), tmp), needle,
                 forbid=("{type(",)))
    cli("definition_path_missing", "definition", "error",
        lambda ctx, tmp: describe(tmp / "nowhere.yaml"), needle=r"nowhere")
    cli("definition_path_is_folder", "definition", "error",
        lambda ctx, tmp: (tmp / "folder.yaml").mkdir() or describe(tmp / "folder.yaml"),
        needle=r"folder\.yaml")


# -- Parquet files --------------------------------------------------------------------------------

def _pq_rewrite(ctx: Ctx, tmp: Path, fn_frame=None, fn_meta=None, keep_meta=True) -> Path:
    """Rewrite the tiny recording Parquet with a modified frame and/or metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(ctx.tiny)
    meta = json.loads(table.schema.metadata[b"tinyhar"])
    frame = table.to_pandas()
    if fn_frame:
        frame = fn_frame(frame)
    if fn_meta:
        meta = fn_meta(meta)
    out = pa.Table.from_pandas(frame, preserve_index=False)
    if keep_meta:
        raw = meta if isinstance(meta, bytes) else json.dumps(meta).encode()
        out = out.replace_schema_metadata({b"tinyhar": raw})
    else:
        out = out.replace_schema_metadata({})
    path = tmp / "rec.parquet"
    pq.write_table(out, path)
    return path


def _parquet_cases() -> None:
    def p(name, build, needle=r"rec\.parquet", expect="error"):
        cli(f"parquet_{name}", "parquet", expect,
            lambda ctx, tmp, b=build: tinyhar("datasets", b(ctx, tmp)), needle=needle)

    def raw(fn):
        def build(ctx, tmp):
            data = ctx.tiny.read_bytes()
            path = tmp / "rec.parquet"
            path.write_bytes(fn(data))
            return path
        return build

    def frame(fn):
        return lambda ctx, tmp: _pq_rewrite(ctx, tmp, fn_frame=fn)

    def meta(fn):
        return lambda ctx, tmp: _pq_rewrite(ctx, tmp, fn_meta=fn)

    p("truncated_half", raw(lambda b: b[: len(b) // 2]))
    p("empty_file", raw(lambda b: b""))
    p("garbage", raw(lambda b: bytes(reversed(b))))
    p("corrupt_middle", raw(lambda b: b[:2000] + b"\x00" * 4000 + b[6000:]))
    p("no_tinyhar_metadata", lambda ctx, tmp: _pq_rewrite(ctx, tmp, keep_meta=False))
    p("metadata_not_json", meta(lambda m: b"{not json"))
    p("metadata_no_rate", meta(lambda m: {k: v for k, v in m.items() if k != "sampling_rate_hz"}))
    for label, value in (("zero", 0), ("text", "fifty"), ("1e300", 1e300)):
        p(f"metadata_rate_{label}", meta(lambda m, v=value: {**m, "sampling_rate_hz": v}),
          needle=r"rec\.parquet|sampling")
    p("metadata_classes_text", meta(lambda m: {**m, "classes": "WALKING"}))
    p("metadata_classes_miss_label", meta(lambda m: {**m, "classes": m["classes"][:2]}),
      needle=r"rec\.parquet|SITTING|STANDING|LAYING|WALKING_DOWN")
    p("missing_acc_z", frame(lambda f: f.drop(columns=["acc_z"])), needle=r"acc_z")
    p("acc_x_as_text", frame(lambda f: f.assign(acc_x=f["acc_x"].astype(str) + "g")),
      needle=r"acc_x")
    p("acc_y_nan", frame(lambda f: f.assign(acc_y=f["acc_y"].where(f.index != 5000))),
      needle=r"acc_y|rec\.parquet")
    p("gyro_1e30", frame(lambda f: f.assign(gyro_x=f["gyro_x"].astype("float64").where(
        f.index != 5000, 1e30))), needle=r"gyro_x|rec\.parquet")
    p("no_subject_column", frame(lambda f: f.drop(columns=["subject"])), needle=r"subject")
    p("zero_rows", frame(lambda f: f.iloc[:0]), expect="either")
    p("time_backwards", frame(lambda f: f.assign(time=f["time"].to_numpy()[::-1].copy())),
      needle=r"time|rec\.parquet", expect="either")
    p("duplicate_column", lambda ctx, tmp: _dup_column_parquet(ctx, tmp), needle=r"acc_x")
    cli("parquet_control_describe", "parquet", "ok",
        lambda ctx, tmp: tinyhar("datasets", ctx.tiny), check=need_output("4 subjects", "4"))
    # Parquet files behind a definition
    for name, fn, needle in (
        ("definition_truncated", lambda b: b[: len(b) // 3], r"s1_exp01\.parquet"),
        ("definition_garbage", lambda b: b"\x00" * 100, r"s1_exp01\.parquet"),
    ):
        def setup(ctx, tmp, fn=fn):
            pdir = tmp / "pq"
            pdir.mkdir()
            for csv in sorted(ctx.csv_dir.glob("*.csv")):
                pd.read_csv(csv).to_parquet(pdir / csv.with_suffix(".parquet").name)
            target = pdir / "s1_exp01.parquet"
            target.write_bytes(fn(target.read_bytes()))
            d = {**GOOD_DEF, "files": "pq/*.parquet",
                 "file_pattern": r"s(?P<subject>\d+)_(?P<session>exp\d+)\.parquet"}
            return describe(write_yaml(tmp / "def.yaml", d))
        cli(f"parquet_{name}", "parquet", "error", setup, needle=needle)

    def pq_def(ctx, tmp, fn=None):
        pdir = tmp / "pq"
        pdir.mkdir()
        for csv in sorted(ctx.csv_dir.glob("*.csv")):
            df = pd.read_csv(csv)
            if fn and csv.name == FIRST_CSV:
                df = fn(df)
            df.to_parquet(pdir / csv.with_suffix(".parquet").name)
        d = {**GOOD_DEF, "files": "pq/*.parquet",
             "file_pattern": r"s(?P<subject>\d+)_(?P<session>exp\d+)\.parquet"}
        return describe(write_yaml(tmp / "def.yaml", d))
    cli("parquet_definition_missing_column", "parquet", "error",
        lambda ctx, tmp: pq_def(ctx, tmp, lambda df: df.drop(columns=["gy"])),
        needle=r"gy\b|s1_exp01")
    cli("parquet_definition_text_column", "parquet", "error",
        lambda ctx, tmp: pq_def(ctx, tmp, lambda df: df.assign(ax="x")), needle=r"s1_exp01")
    cli("parquet_definition_control", "parquet", "ok", lambda ctx, tmp: pq_def(ctx, tmp),
        check=need_output("2 subjects", "2 subjects"))


def _dup_column_parquet(ctx: Ctx, tmp: Path) -> Path:
    import pyarrow.parquet as pq

    table = pq.read_table(ctx.tiny)
    table = table.append_column("acc_x", table.column("acc_y"))
    path = tmp / "rec.parquet"
    pq.write_table(table, path)
    return path


# -- NPY files ------------------------------------------------------------------------------------

NPY_DEF = {
    "name": "npyset", "files": "npy/*.npy", "sampling_rate_hz": 50,
    "columns": {"acc_x": 0, "acc_y": 1, "acc_z": 2},
    "file_pattern": r"s(?P<subject>\d+)_(?P<session>\w+)\.npy",
    "constants": {"label": "WALKING"},
}


def _npy_setup(ctx: Ctx, tmp: Path, bad=None, columns=None) -> list:
    ndir = tmp / "npy"
    ndir.mkdir()
    rng = np.random.default_rng(1)
    for s in ("1", "2"):
        arr = (rng.normal(0, 0.1, (3000, 3)) + [0, 0, 1]).astype(np.float32)
        np.save(ndir / f"s{s}_a.npy", arr)
    if bad is not None:
        bad(ndir / "s1_a.npy")
    d = json.loads(json.dumps(NPY_DEF))
    if columns:
        d["columns"].update(columns)
    return describe(write_yaml(tmp / "def.yaml", d))


def _still(n: int, seed: int = 2) -> np.ndarray:
    """``(n, 3)`` float32 accelerometer samples of a device lying still (1 g on z, noise), g."""
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 0.01, (n, 3)) + [0, 0, 1]).astype(np.float32)


class _Evil:
    """Unpickling this creates a marker file (the harness checks it never appears)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _npy_cases() -> None:
    def n(name, bad, needle=r"s1_a\.npy", expect="error", columns=None, state=None):
        cli(f"npy_{name}", "npy", expect,
            lambda ctx, tmp, b=bad: _npy_setup(ctx, tmp, b, columns), needle=needle, state=state)

    def arr(a):
        return lambda path: np.save(path, a)

    def rawb(fn):
        return lambda path: path.write_bytes(fn(path.read_bytes()))

    n("one_dimensional", arr(np.zeros(300, np.float32)))
    n("three_dimensional", arr(np.zeros((10, 30, 3), np.float32)))
    n("two_columns", arr(np.zeros((300, 2), np.float32)))
    n("text_dtype", arr(np.array([["a", "b", "c"]] * 300)))
    n("complex_dtype", arr(np.ones((300, 3), np.complex64)))
    n("nan_value", arr(np.full((3000, 3), np.nan, np.float32)))
    n("inf_value", arr(np.where(np.arange(9000).reshape(3000, 3) == 7, np.inf, 1.0)))
    n("value_1e30", arr(np.where(np.arange(9000).reshape(3000, 3) == 7, 1e30, 1.0)))
    n("zero_rows", arr(np.zeros((0, 3), np.float32)))  # refused, naming the file
    n("truncated", rawb(lambda b: b[: len(b) // 2]))
    n("garbage", rawb(lambda b: b"not an npy file at all" * 10))
    n("empty_file", rawb(lambda b: b""))
    n("npz_named_npy", lambda path: np.savez(path.with_suffix(".tmp"), a=np.zeros(3)) or
      os.replace(path.with_suffix(".tmp.npz"), path))
    n("position_out_of_range", None, needle=r"\b5\b|acc_z|s1_a", columns={"acc_z": 5})

    def evil(path: Path) -> None:
        marker = path.parent.parent / "PWNED_npy"
        obj = np.empty(3, dtype=object)
        obj[0] = _Evil(str(marker))
        np.save(path, obj, allow_pickle=True)
    cli("npy_pickled_object_array", "npy", "error",
        lambda ctx, tmp: _npy_setup(ctx, tmp, evil), needle=r"s1_a\.npy",
        state=lambda ctx, tmp, res: marker_state(tmp / "PWNED_npy")(ctx, tmp, res))
    n("big_endian_ok", arr(_still(3000).astype(">f4")), expect="ok")
    n("int_counts_ok", arr(np.ones((3000, 3), np.int16)), expect="either")
    n("fortran_order_ok", arr(np.asfortranarray(_still(3000))), expect="ok")


# -- training configurations ----------------------------------------------------------------------

def _config_cases() -> None:
    def c(name, key, value, needle=None, expect="error", check=None):
        needle = needle or re.escape(key)

        def setup(ctx, tmp):
            cfg = base_config(ctx, **{key: value})
            return tinyhar("train", "--config", write_yaml(tmp / "cfg.yaml", cfg),
                           "--out", tmp / "out")
        cli(f"config_{name}", "config", expect, setup, needle=needle, check=check)

    for label, v in (("minus_1", -1), ("2_pow_40", 2**40), ("text", "abc")):
        c(f"seed_{label}", "seed", v)
    c("dataset_name_unknown", "dataset.name", "nope-set", needle="nope-set")
    c("dataset_name_empty", "dataset.name", "", needle=r"dataset\.name|data set ''")
    c("dataset_path_missing", "dataset.path", "/nonexistent/x.zip", needle="nonexistent")
    c("dataset_sensors", "dataset.sensors", "accel")
    for key, vals in (
        ("windows.window", (("zero", 0), ("1e300", 1e300),
                            ("nan", float("nan")), ("longer_than_data", 100000.0))),
        ("windows.hop", (("zero", 0), ("1e300", 1e300))),
        ("windows.purity", (("zero", 0), ("above_1", 1.5))),
        ("windows.target_rate_hz", (("zero", 0), ("1e300", 1e300),
                                    ("below_1hz", 0.5, r"target_rate_hz|0\.5 Hz"))),
        ("features.gravity_cutoff_hz", (("zero", 0), ("above_nyquist", 1000.0))),
        ("model.n_estimators", (("zero", 0),)),
        ("model.max_depth", (("hundred", 100),)),
        ("model.min_samples_leaf", (("billion", 10**9),)),
        ("model.max_features", (("banana", "banana"), ("zero", 0), ("negative", -1),
                                ("fraction_above_1", 1.5), ("too_many", 100000))),
        ("evaluation.cv_folds", (("negative", -1),)),
        ("evaluation.test_fraction", (("one", 1),)),
    ):
        for label, v, *needle in vals:
            c(f"{key.split('.')[1]}_{label}", key, v,
              needle=needle[0] if needle else re.escape(key.split(".")[1]))
    c("windows_unit", "windows.unit", "minutes", needle=r"unit")
    c("features_set", "features.set", "huge", needle=r"features\.set|huge")
    c("model_kind", "model.kind", "svm", needle=r"model\.kind|svm")
    c("model_class_weight", "model.class_weight", "heavy", needle="class_weight")
    c("model_preset_for_trees", "model.preset", "ucihar-cnn", needle=r"preset")
    c("model_params_for_trees", "model.params", {"epochs": 3}, needle=r"params")
    c("evaluation_protocol", "evaluation.protocol", "loso-x", needle=r"protocol")
    c("test_subjects_unknown", "evaluation.test_subjects", ["99"], needle=r"99")
    c("test_subjects_empty", "evaluation.test_subjects", [], needle=r"test_subjects")
    c("test_subjects_all", "evaluation.test_subjects", ["1", "2", "3", "4"],
      needle=r"test subject|training")
    c("test_subjects_text", "evaluation.test_subjects", "everyone", needle=r"test_subjects")
    c("unknown_top_key", "sede", 1, needle=r"sede")
    c("unknown_nested_key", "model.n_trees", 3, needle=r"n_trees")
    c("hop_longer_than_window", "windows.hop", 3.0, expect="ok",
      check=need_output(r"warn.*hop|hop.*warn", "warning about hop > window"))
    c("hop_one_sample_ok", "windows.hop", 0.02, expect="ok",
      check=lambda ctx, tmp, res: _metrics_check(tmp / "out", classes=6))
    for label, content, needle in (
        ("list", b"- seed\n- model\n", r"cfg\.yaml"),
        ("invalid_yaml", b"model: {n_estimators: 3\n", r"cfg\.yaml"),
        ("non_utf8", "seed: 0\n# caf\xe9\n".encode("latin-1"), r"cfg\.yaml"),
        ("tab_indent", b"model:\n\tn_estimators: 3\n", r"cfg\.yaml"),
    ):
        def setup(ctx, tmp, content=content):
            (tmp / "cfg.yaml").write_bytes(content)
            return tinyhar("train", "--config", tmp / "cfg.yaml", "--out", tmp / "out")
        cli(f"config_file_{label}", "config", "error", setup, needle=needle)
    cli("config_file_missing", "config", "error",
        lambda ctx, tmp: tinyhar("train", "--config", tmp / "nope.yaml", "--out", tmp / "o"),
        needle=r"nope\.yaml")
    cli("config_file_is_folder", "config", "error",
        lambda ctx, tmp: (tmp / "d.yaml").mkdir() or tinyhar(
            "train", "--config", tmp / "d.yaml", "--out", tmp / "o"), needle=r"d\.yaml")
    cli("config_run_config_reproduces_elsewhere", "config", "ok",
        lambda ctx, tmp: tinyhar("train", "--config", ctx.run / "config.yaml",
                                 "--out", tmp / "out"),
        check=lambda ctx, tmp, res: _same_metrics(ctx.run, tmp / "out"))


def _same_metrics(a: Path, b: Path) -> str | None:
    problem = _metrics_check(b)
    if problem:
        return problem
    ma, mb = (json.loads((p / "metrics.json").read_text()) for p in (a, b))
    if ma["macro_f1"] != mb["macro_f1"] or ma["confusion_matrix"] != mb["confusion_matrix"]:
        return f"macro-F1 {mb['macro_f1']} differs from the original run's {ma['macro_f1']}"
    return None


# -- command-line misuse --------------------------------------------------------------------------

def _cli_cases() -> None:
    def t(name, expect, args_fn, needle=None, check=None, state=None, forbid=()):
        cli(f"cli_{name}", "cli", expect, args_fn, needle=needle, check=check, state=state,
            forbid=forbid)

    def tr(*extra):
        def setup(ctx, tmp):
            cfg = write_yaml(tmp / "cfg.yaml", base_config(ctx))
            return tinyhar("train", "--config", cfg, "--out", tmp / "out", *extra)
        return setup

    t("train_n_estimators_text", "error", tr("--n-estimators", "abc"), needle=r"n-estimators")
    t("train_n_estimators_zero", "error", tr("--n-estimators", "0"), needle=r"n_estimators")
    t("train_model_bad", "error", tr("--model", "svm"), needle=r"svm|kind")
    t("train_preset_bad", "error", tr("--preset", "nope"), needle=r"nope|preset")
    t("train_unknown_option", "error", tr("--colour", "red"), needle=r"colour")
    t("train_dataset_missing_file", "error", tr("--dataset", "/nonexistent/d.yaml"),
      needle=r"nonexistent")
    t("train_path_missing", "error",
      lambda ctx, tmp: tinyhar("train", "--dataset", "hapt-raw", "--path", tmp / "none.zip",
                               "--out", tmp / "out"), needle=r"none\.zip")
    t("train_tree_options_on_network", "error",
      tr("--model", "cnn1d", "--n-estimators", "5", "--epochs", "1"),
      needle=r"n.estimators")

    def out_is(make):
        def setup(ctx, tmp):
            target = make(ctx, tmp)
            cfg = write_yaml(tmp / "cfg.yaml", base_config(ctx))
            return tinyhar("train", "--config", cfg, "--out", target)
        return setup

    t("train_out_empty_string", "error", out_is(lambda ctx, tmp: ""), needle=r"out",
      state=lambda ctx, tmp, res: "wrote a run into the current directory"
      if (tmp / "metrics.json").exists() else None)
    t("train_out_existing_file", "error",
      out_is(lambda ctx, tmp: (tmp / "file.txt").write_text("keep me") and tmp / "file.txt"),
      needle=r"file\.txt",
      state=lambda ctx, tmp, res: None if (tmp / "file.txt").read_text() == "keep me"
      else "the existing file was overwritten")
    t("train_out_below_a_file", "error",
      out_is(lambda ctx, tmp: (tmp / "f.txt").write_text("x") and tmp / "f.txt" / "run"),
      needle=r"f\.txt")
    t("train_out_existing_run_refused", "error",
      out_is(lambda ctx, tmp: copy_run(ctx, tmp, "prev")),
      needle=r"overwrite",
      state=lambda ctx, tmp, res: None if tree_hashes(tmp / "prev") == tree_hashes(ctx.run)
      else "the previous run was changed")
    t("train_out_unrelated_folder_refused", "error",
      out_is(lambda ctx, tmp: (tmp / "docs").mkdir() or (tmp / "docs" / "notes.txt").write_text(
          "mine") and tmp / "docs"), needle=r"docs|overwrite",
      state=lambda ctx, tmp, res: None if (tmp / "docs" / "notes.txt").exists()
      else "an unrelated file in --out was deleted")

    def overwrite_setup(ctx, tmp):
        prev = copy_run(ctx, tmp, "prev")
        cfg = write_yaml(tmp / "cfg.yaml", base_config(ctx, seed=5))
        return tinyhar("train", "--config", cfg, "--out", prev, "--overwrite")
    t("train_overwrite_replaces", "ok", overwrite_setup,
      check=lambda ctx, tmp, res: run_state(ctx, tmp / "prev", allowed_seeds={5},
                                            need_present=True))
    # evaluate
    t("evaluate_missing_run", "error",
      lambda ctx, tmp: tinyhar("evaluate", tmp / "no_run", "--dataset", ctx.tiny),
      needle=r"no_run")
    t("evaluate_run_is_file", "error",
      lambda ctx, tmp: (tmp / "r.txt").write_text("x") and tinyhar("evaluate", tmp / "r.txt"),
      needle=r"r\.txt")
    t("evaluate_empty_folder", "error",
      lambda ctx, tmp: (tmp / "empty").mkdir() or tinyhar("evaluate", tmp / "empty"),
      needle=r"empty")
    t("evaluate_unknown_dataset", "error",
      lambda ctx, tmp: tinyhar("evaluate", copy_run(ctx, tmp), "--dataset", "nope-set"),
      needle=r"nope-set")
    t("evaluate_nonexistent_subjects", "error",
      lambda ctx, tmp: tinyhar("evaluate", copy_run(ctx, tmp), "--dataset", ctx.tiny,
                               "--subjects", "99,100"), needle=r"99")
    t("evaluate_subjects_blank", "error",
      lambda ctx, tmp: tinyhar("evaluate", copy_run(ctx, tmp), "--dataset", ctx.tiny,
                               "--subjects", " , "), needle=r"subjects")
    t("evaluate_json_valid", "ok",
      lambda ctx, tmp: tinyhar("evaluate", copy_run(ctx, tmp), "--dataset", ctx.tiny,
                               "--subjects", "4", "--json"),
      check=lambda ctx, tmp, res: None if (json_stdout(res) or {}).get("macro_f1") is not None
      else "stdout is not the metrics JSON")
    t("export_unknown_target", "error",
      lambda ctx, tmp: tinyhar("export", copy_run(ctx, tmp), "--target", "fpga"),
      needle=r"fpga|target")
    t("export_missing_run", "error",
      lambda ctx, tmp: tinyhar("export", tmp / "no_run", "--no-profile"), needle=r"no_run")
    t("simulate_missing_recording", "error",
      lambda ctx, tmp: tinyhar("simulate", copy_run(ctx, tmp), "--recording", tmp / "no.pq"),
      needle=r"no\.pq")
    t("datasets_unknown", "error", lambda ctx, tmp: tinyhar("datasets", "nope-set"),
      needle=r"nope-set")
    t("features_unknown_set", "error", lambda ctx, tmp: tinyhar("features", "--set", "huge"),
      needle=r"huge|set")
    t("features_rate_zero", "error",
      lambda ctx, tmp: tinyhar("features", "--sampling-rate-hz", "0"), needle=r"sampling")
    t("features_sensors_bad", "error",
      lambda ctx, tmp: tinyhar("features", "--sensors", "gyro"), needle=r"sensors|gyro")
    t("unknown_command", "error", lambda ctx, tmp: tinyhar("trian"), needle=r"trian")
    t("embed_tree_run", "error",
      lambda ctx, tmp: tinyhar("embed", copy_run(ctx, tmp), "--out", tmp / "e.parquet"),
      needle=r"run_case|network")


# -- run folders with tampered files --------------------------------------------------------------

def _runfolder_cases() -> None:
    def tamper_pipeline(fn):
        def t(ctx, run):
            p = pipeline_path(run, ctx)
            fn(p)
        return t

    def rm(name):
        return lambda ctx, run: (run / name).unlink()

    def write(name, data: bytes):
        return lambda ctx, run: (run / name).write_bytes(data)

    def edit(name, fn):
        return lambda ctx, run: (run / name).write_text(fn((run / name).read_text()))

    def swap_pipeline(ctx, run):
        shutil.copy(pipeline_path(ctx.run2, ctx), pipeline_path(run, ctx))

    def swap_metrics(ctx, run):
        shutil.copy(ctx.run2 / "metrics.json", run / "metrics.json")

    def rm_manifest(ctx, run):
        (run / "manifest.json").unlink(missing_ok=True)

    tamperings = {
        "pipeline_missing": tamper_pipeline(lambda p: p.unlink()),
        "pipeline_empty": tamper_pipeline(lambda p: p.write_bytes(b"")),
        "pipeline_10_bytes": tamper_pipeline(lambda p: p.write_bytes(p.read_bytes()[:10])),
        "pipeline_truncated_half": tamper_pipeline(
            lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])),
        "pipeline_garbage": tamper_pipeline(lambda p: p.write_bytes(os.urandom(4000))),
        "pipeline_from_other_run": swap_pipeline,
        "metrics_from_other_run": swap_metrics,
        "config_missing": rm("config.yaml"),
        "config_invalid_yaml": write("config.yaml", b"model: {kind: [\n"),
        "config_edited": edit("config.yaml", lambda t: t.replace("n_estimators: 3",
                                                                 "n_estimators: 7")),
        "metrics_missing": rm("metrics.json"),
        "metrics_invalid_json": write("metrics.json", b"{\"accuracy\": "),
        "manifest_missing": rm_manifest,
    }
    commands = {
        "evaluate": lambda ctx, run: tinyhar("evaluate", run, "--dataset", ctx.tiny,
                                             "--subjects", "4"),
        "export_c": lambda ctx, run: tinyhar("export", run, "--target", "c", "--no-profile",
                                             "--out", run.parent / "exp"),
    }
    export_subset = ("pipeline_10_bytes", "pipeline_garbage", "pipeline_from_other_run",
                     "config_missing", "metrics_missing", "config_edited", "manifest_missing")
    for cname, command in commands.items():
        for tname, tamper in tamperings.items():
            if cname != "evaluate" and tname not in export_subset:
                continue

            def setup(ctx, tmp, tamper=tamper, command=command):
                run = copy_run(ctx, tmp, "run_tampered")
                tamper(ctx, run)
                return command(ctx, run)
            cli(f"runfolder_{cname}_{tname}", "runfolder", "error", setup,
                needle=r"run_tampered")

    # crafted pickle that would create a marker file
    def crafted(ctx: Ctx, tmp: Path) -> Path:
        import pickle

        run = copy_run(ctx, tmp, "run_tampered")
        marker = tmp / "PWNED"
        payload = pickle.dumps(_Evil(str(marker)))
        pipeline_path(run, ctx).write_bytes(payload)
        (run / "pipeline.joblib").write_bytes(payload)
        return run

    crafted_commands = {
        "evaluate": lambda ctx, run: tinyhar("evaluate", run, "--dataset", ctx.tiny),
        "export_c": lambda ctx, run: tinyhar("export", run, "--target", "c", "--no-profile",
                                             "--out", run.parent / "exp"),
        "export_micropython": lambda ctx, run: tinyhar("export", run, "--target",
                                                       "micropython", "--out",
                                                       run.parent / "exp"),
        "simulate": lambda ctx, run: tinyhar("simulate", run, "--recording", ctx.tiny),
        "api_load": lambda ctx, run: api(f"""
            from tinyhar.models.pipeline import HarPipeline
            HarPipeline.load({str(pipeline_path(run, ctx))!r})
            """),
    }
    for cname, command in crafted_commands.items():
        def setup(ctx, tmp, command=command):
            return command(ctx, crafted(ctx, tmp))
        cli(f"runfolder_crafted_pickle_{cname}", "runfolder", "error", setup,
            needle=r"run_tampered|pipeline", state=lambda ctx, tmp, res: marker_state(
                tmp / "PWNED")(ctx, tmp, res))
    cli("runfolder_control_evaluate", "runfolder", "ok",
        lambda ctx, tmp: tinyhar("evaluate", copy_run(ctx, tmp), "--dataset", ctx.tiny,
                                 "--subjects", "4", "--json"),
        check=lambda ctx, tmp, res: _same_score(ctx, res))
    cli("runfolder_control_export_c", "runfolder", "ok",
        lambda ctx, tmp: tinyhar("export", copy_run(ctx, tmp), "--target", "c", "--no-profile",
                                 "--out", tmp / "exp"),
        check=lambda ctx, tmp, res: None if list((tmp / "exp").glob("*.c")) else "no C file")


def _same_score(ctx: Ctx, res: Result) -> str | None:
    m = json_stdout(res)
    if m is None:
        return "stdout is not the metrics JSON"
    train_m = json.loads((ctx.run / "metrics.json").read_text())
    if abs(m["macro_f1"] - train_m["macro_f1"]) > 1e-9:
        return f"macro-F1 {m['macro_f1']:.4f} != the run's held-out {train_m['macro_f1']:.4f}"
    return None


# -- Python API -----------------------------------------------------------------------------------

def _api_cases() -> None:
    windows = {
        "all_nan": "np.full((2, n, c), np.nan)",
        "one_nan": "good_with(np.nan)",
        "plus_inf": "good_with(np.inf)",
        "plus_1e30": "good_with(1e30)",
        "alternating_1e30": "np.where(np.arange(n)[None, :, None] % 2 == 0, 1e30, -1e30) "
                            "* np.ones((2, n, c))",
    }
    ok_windows = {
        "zeros": "np.zeros((2, n, c))",
        "constant": "np.full((2, n, c), 0.5)",
        "denormals": "np.full((2, n, c), 1e-40)",
    }
    for name, expr in {**windows, **ok_windows}.items():
        code = f"""
            import numpy as np
            from tinyhar.models.pipeline import HarPipeline
            from pathlib import Path
            import glob
            from tinyhar.core.windowset import WindowSet
            pipe = HarPipeline.load(PIPE)
            n, c = pipe.n_samples, len(pipe.channels)
            def good_with(v):
                x = np.zeros((2, n, c)); x[..., 2] = 1.0; x[1, n // 2, 0] = v
                return x
            X = {expr}
            ws = WindowSet(X=X.astype(np.float32), y=np.array(["WALKING"] * 2, dtype=object),
                           subject=np.array(["1", "1"], dtype=object),
                           session=np.array(["a", "a"], dtype=object),
                           start_time=np.array([0.0, 2.56]), channels=list(pipe.channels),
                           sampling_rate_hz=pipe.sampling_rate_hz, classes=list(pipe.classes),
                           name="adversarial")
            pred = pipe.predict(ws)
            print("classes", list(pred))
            """
        expect = "ok" if name in ok_windows else "error"

        def setup(ctx, tmp, code=code):
            pipe = pipeline_path(ctx.run, ctx)
            return api(code.replace("PIPE", repr(str(pipe))))
        cli(f"api_predict_{name}", "api", expect, setup, needle=r"window",
            check=need_output(r"classes", "classes"))
    cli("api_predict_spike_1e6", "api", "either",
        lambda ctx, tmp: api(f"""
            import numpy as np
            from tinyhar.models.pipeline import HarPipeline
            from tinyhar.core.windowset import WindowSet
            pipe = HarPipeline.load({str(pipeline_path(ctx.run, ctx))!r})
            x = np.zeros((1, pipe.n_samples, len(pipe.channels)), np.float32); x[0, 5, 0] = 1e6
            ws = WindowSet(X=x, y=np.array(["WALKING"], dtype=object),
                           subject=np.array(["1"], dtype=object),
                           session=np.array(["a"], dtype=object), start_time=np.zeros(1),
                           channels=list(pipe.channels), sampling_rate_hz=pipe.sampling_rate_hz,
                           classes=list(pipe.classes), name="adversarial")
            print("classes", list(pipe.predict(ws)))
            """), needle=r"window|range", check=need_output("classes", "classes"))
    cli("api_load_garbage_pipeline", "api", "error",
        lambda ctx, tmp: then((tmp / "p.bin").write_bytes(b"\x80\x04garbage"), api(f"""
            from tinyhar.models.pipeline import HarPipeline
            HarPipeline.load({str(tmp / 'p.bin')!r})
            """)), needle=r"p\.bin")
    cli("api_load_dataset_unknown", "api", "error",
        lambda ctx, tmp: api("""
            from tinyhar.datasets.registry import load_dataset
            load_dataset("no-such-set")
            """), needle="no-such-set")
    cli("api_make_config_bad", "api", "error",
        lambda ctx, tmp: api("""
            from tinyhar.config import make_config
            make_config({"model": {"n_estimators": "many"}})
            """), needle="n_estimators")
    cli("api_recording_from_garbage_parquet", "api", "error",
        lambda ctx, tmp: then((tmp / "g.parquet").write_bytes(b"PAR1garbagePAR1"), api(f"""
            from tinyhar.datasets.recording import RecordingSet
            RecordingSet.from_parquet({str(tmp / 'g.parquet')!r})
            """)), needle=r"g\.parquet")


# -- data plausibility ----------------------------------------------------------------------------

def _plausibility_cases() -> None:
    f = r"s1_exp01"

    def pl(name, expect, mutate_def=None, mutate_file=None, needle=None, check=None,
           train=False, all_files=False):
        def setup(ctx, tmp):
            d = csv_def(ctx, tmp, mutate_def=mutate_def)
            if mutate_file:
                targets = sorted((tmp / "csv").glob("*.csv")) if all_files else [
                    tmp / "csv" / FIRST_CSV]
                for path in targets:
                    mutate_file(path)
            return train_on(ctx, tmp, d) if train else describe(d)
        cli(f"plausibility_{name}", "plausibility", expect, setup, needle=needle, check=check)

    def setk(path, value):
        return lambda dd: _set_path(dd, path.split("."), value)

    def scale(cols, factor):
        def fn(df):
            for col in cols:
                df[col] = (df[col].astype(float) * factor).map(lambda v: f"{v:.6g}")
            return df
        return edit_csv(fn)

    pl("rate_25_declared_for_50hz", "error", setk("sampling_rate_hz", 25),
       needle=r"25.*50|50.*25")
    pl("rate_100_declared_for_50hz", "error", setk("sampling_rate_hz", 100),
       needle=r"100.*50|50.*100")
    pl("rate_51_declared_within_2pct", "ok", setk("sampling_rate_hz", 50.5),
       check=need_output("2 subjects", "description"))
    pl("time_in_ms_declared_s", "error", mutate_file=scale(["t"], 1000), needle=f)
    pl("time_restarts", "either",
       mutate_file=edit_csv(lambda df: df.assign(t=[f"{(i % 4000) * 0.02:.4f}"
                                                    for i in range(len(df))])),
       needle=f, check=need_output(r"restart|backward|split|session", "notice of the restart"))
    pl("time_goes_backwards_once", "either",
       mutate_file=edit_csv(lambda df: df.assign(t=[f"{(i - 3000 if i >= 5000 else i) * 0.02:.4f}"
                                                    for i in range(len(df))])),
       needle=f, check=need_output(r"backward|restart|split|session", "notice"))
    pl("acc_ms2_declared_g", "error", mutate_file=scale(["ax", "ay", "az"], 9.80665),
       all_files=True, needle=r"m/s|9\.8")
    pl("acc_g_declared_ms2", "error", setk("units.acc", "m/s^2"), needle=r"m/s|\bg\b")
    pl("acc_mixed_units_one_file", "error", mutate_file=scale(["ax", "ay", "az"], 9.80665),
       needle=f)
    pl("acc_mg_declared_g", "error", mutate_file=scale(["ax", "ay", "az"], 1000),
       all_files=True, needle=r"mg|1000|acc")
    pl("gyro_degs_declared_rads", "error", mutate_file=scale(["gx", "gy", "gz"], 57.2958),
       all_files=True, needle=r"deg/s|rad/s")
    pl("gyro_rads_declared_degs", "either", setk("units.gyro", "deg/s"),
       needle=r"deg/s|rad/s", check=None)
    pl("acc_clipped_at_2g", "either",
       mutate_file=edit_csv(lambda df: df.assign(
           ax=[("2" if 4000 <= i < 4100 else v) for i, v in enumerate(df["ax"])])),
       needle=r"clip", check=need_output(r"clip", "clipping report"))
    pl("acc_ms2_declared_correctly", "ok",
       lambda dd: _set_path(dd, ["units", "acc"], "m/s^2"),
       mutate_file=scale(["ax", "ay", "az"], 9.80665), all_files=True,
       check=need_output("2 subjects", "description"))
    pl("acc_mg_declared_correctly", "ok", lambda dd: _set_path(dd, ["units", "acc"], "mg"),
       mutate_file=scale(["ax", "ay", "az"], 1000), all_files=True,
       check=need_output("2 subjects", "description"))
    pl("gyro_degs_declared_correctly", "ok", lambda dd: _set_path(dd, ["units", "gyro"], "deg/s"),
       mutate_file=scale(["gx", "gy", "gz"], 57.29577951308232), all_files=True,
       check=need_output("2 subjects", "description"))
    pl("only_unlabelled", "error", mutate_file=edit_csv(lambda df: df.assign(act="")),
       all_files=True, train=True, needle=r"unlabell?ed|no label(?!led window)")
    # issue: 1e30 in the input must be reported with file, row and channel
    pl("value_1e30_trains", "error", mutate_file=set_cell("ax", 2000, "1e30"), train=True,
       needle=r"s1_exp01.*(ax|acc_x)|(ax|acc_x).*s1_exp01")

    # issue: a class only in training subjects
    def absent_class_data(ctx: Ctx, tmp: Path) -> Path:
        import pyarrow.parquet as pq

        table = pq.read_table(ctx.tiny)
        frame = table.to_pandas()
        frame.loc[(frame["subject"] == "4") & (frame["label"] == "LAYING"), "label"] = pd.NA
        out = tmp / "no_laying_4.parquet"
        import pyarrow as pa

        t2 = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(
            table.schema.metadata)
        pq.write_table(t2, out)
        return out

    cli("issue_class_absent_from_test_subjects_train", "issue", "ok",
        lambda ctx, tmp: train_on(ctx, tmp, absent_class_data(ctx, tmp), test_subjects=["4"]),
        check=need_output(r"warn[^\n]*LAYING|LAYING[^\n]*(absent|missing|not present)",
                          "warning naming the absent class LAYING"))
    cli("issue_class_absent_from_test_subjects_evaluate", "issue", "ok",
        lambda ctx, tmp: tinyhar("evaluate", copy_run(ctx, tmp), "--dataset",
                                 absent_class_data(ctx, tmp), "--subjects", "4"),
        check=need_output(r"warn[^\n]*LAYING|LAYING[^\n]*(absent|missing|not present)",
                          "warning naming the absent class LAYING"))

    # issue: windowing memory estimate
    def long_recording(ctx: Ctx, tmp: Path) -> list:
        ndir = tmp / "npy"
        ndir.mkdir()
        for s in ("1", "2"):
            np.save(ndir / f"s{s}_long.npy", _still(1_200_000, seed=int(s)))
        d = {**NPY_DEF}
        cfg = base_config(ctx, **{
            "dataset.name": str(write_yaml(tmp / "def.yaml", d)),
            "windows.window": 60000, "windows.hop": 1, "windows.unit": "samples",
            "dataset.sensors": "acc",
            "evaluation.test_subjects": ["2"],
        })
        return tinyhar("train", "--config", write_yaml(tmp / "cfg.yaml", cfg),
                       "--out", tmp / "out")
    cli("issue_hop_one_sample_huge_memory", "issue", "error", long_recording,
        needle=r"memory|GB|GiB|bytes")


# -- archives and other registered loaders ---------------------------------------------------------

def _zip_edit(src: Path, dest: Path, drop=(), replace: dict | None = None) -> Path:
    replace = replace or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            data = zin.read(info.filename)
            if info.filename in replace:
                r = replace[info.filename]
                data = r(data) if callable(r) else r
            zout.writestr(info.filename, data)
    return dest


def _corrupt_member(src: Path, dest: Path, member: str) -> Path:
    shutil.copy(src, dest)
    with zipfile.ZipFile(dest) as z:
        info = z.getinfo(member)
    with open(dest, "r+b") as fh:
        fh.seek(info.header_offset + 26)
        n_name, n_extra = np.frombuffer(fh.read(4), "<u2")
        start = info.header_offset + 30 + int(n_name) + int(n_extra)
        fh.seek(start + info.compress_size // 2)
        fh.write(bytes(range(200, 256)) * 4)
    return dest


def _archive_cases() -> None:
    acc1 = "RawData/acc_exp01_user01.txt"
    gyro1 = "RawData/gyro_exp01_user01.txt"
    labels = "RawData/labels.txt"

    def h(name, build, needle, expect="error"):
        cli(f"hapt_zip_{name}", "archive", expect,
            lambda ctx, tmp, b=build: tinyhar("datasets", "hapt-raw", "--path", b(ctx, tmp)),
            needle=needle)

    def ed(drop=(), **replace):
        def build(ctx, tmp):
            rep = {k.replace("__", "/").replace("_DOT_", "."): v for k, v in replace.items()}
            return _zip_edit(ctx.hapt_zip, tmp / "hapt.zip", drop, rep)
        return build

    def labels_edit(fn):
        return lambda ctx, tmp: _zip_edit(ctx.hapt_zip, tmp / "hapt.zip",
                                          replace={labels: lambda b: fn(b.decode()).encode()})

    def first_label(fn):
        def edit(text):
            lines = text.splitlines()
            lines[0] = fn(lines[0].split())
            return "\n".join(lines) + "\n"
        return labels_edit(edit)

    h("control", lambda ctx, tmp: ctx.hapt_zip, None, expect="ok")
    h("corrupt_deflate_member", lambda ctx, tmp: _corrupt_member(
        ctx.hapt_zip, tmp / "hapt.zip", acc1), r"acc_exp01_user01")
    h("corrupt_labels_member", lambda ctx, tmp: _corrupt_member(
        ctx.hapt_zip, tmp / "hapt.zip", labels), r"labels\.txt")
    h("truncated_zip", lambda ctx, tmp: then((tmp / "hapt.zip").write_bytes(
        ctx.hapt_zip.read_bytes()[:200000]), tmp / "hapt.zip"), r"hapt\.zip")
    h("not_a_zip", lambda ctx, tmp: then((tmp / "hapt.zip").write_bytes(b"hello" * 100),
                                         tmp / "hapt.zip"), r"hapt\.zip")
    h("empty_zip", lambda ctx, tmp: zipfile.ZipFile(tmp / "hapt.zip", "w").close()
      or tmp / "hapt.zip", r"hapt\.zip")
    h("missing_labels_txt", ed(drop=(labels,)), r"labels\.txt")
    h("missing_activity_labels", ed(drop=("activity_labels.txt",)), r"activity_labels")
    h("missing_gyro_member", ed(drop=(gyro1,)), r"gyro_exp01|exp01")
    h("acc_gyro_row_mismatch", lambda ctx, tmp: _zip_edit(
        ctx.hapt_zip, tmp / "hapt.zip",
        replace={gyro1: lambda b: b"".join(b.splitlines(keepends=True)[:-100])}),
      r"exp01|gyro_exp01|acc_exp01")
    h("acc_text_line", lambda ctx, tmp: _zip_edit(
        ctx.hapt_zip, tmp / "hapt.zip",
        replace={acc1: lambda b: b.replace(b"\n", b"\nhello world again\n", 1)}),
      r"acc_exp01_user01")
    h("acc_two_columns", lambda ctx, tmp: _zip_edit(
        ctx.hapt_zip, tmp / "hapt.zip",
        replace={acc1: lambda b: b"\n".join(ln.rsplit(b" ", 1)[0] for ln in b.splitlines())}),
      r"acc_exp01_user01")
    h("acc_nan_value", lambda ctx, tmp: _zip_edit(
        ctx.hapt_zip, tmp / "hapt.zip",
        replace={acc1: lambda b: b"nan nan nan\n" + b.split(b"\n", 1)[1]}),
      r"acc_exp01_user01")
    h("labels_empty", ed(**{"RawData__labels_DOT_txt": b""}), r"labels\.txt")
    h("labels_text_line", labels_edit(lambda t: "one two three four five\n" + t), r"labels\.txt")
    h("labels_too_few_fields", first_label(lambda f: " ".join(f[:3])), r"labels\.txt")
    h("labels_activity_13", first_label(lambda f: " ".join([f[0], f[1], "13", f[3], f[4]])),
      r"labels\.txt|13")
    h("labels_end_before_start", first_label(lambda f: " ".join(f[:3] + [f[4], f[3]])),
      r"labels\.txt")
    h("labels_end_beyond_file", first_label(lambda f: " ".join(f[:3] + [f[3], "99999999"])),
      r"labels\.txt")
    h("labels_unknown_experiment", labels_edit(lambda t: t + "55 27 1 100 200\n"),
      r"labels\.txt|55")
    h("labels_wrong_user", first_label(lambda f: " ".join([f[0], "9"] + f[2:])),
      r"labels\.txt")
    h("labels_non_utf8", lambda ctx, tmp: _zip_edit(
        ctx.hapt_zip, tmp / "hapt.zip", replace={labels: lambda b: b"\xff\xfe" + b}),
      r"labels\.txt")
    h("labels_overlapping_segments", labels_edit(
        lambda t: t + " ".join(t.splitlines()[0].split()[:3] + [
            str(int(t.splitlines()[0].split()[3]) + 1), t.splitlines()[0].split()[4]]) + "\n"),
      r"labels\.txt|overlap")
    h("activity_labels_bad_line", ed(**{"activity_labels_DOT_txt": b"1 WALKING\nbanana\n"}),
      r"activity_labels")
    h("path_missing", lambda ctx, tmp: tmp / "nothing.zip", r"nothing\.zip")
    # UCI HAR
    root = "UCI HAR Dataset/"

    def u(name, build, needle, expect="error"):
        cli(f"uci_zip_{name}", "archive", expect,
            lambda ctx, tmp, b=build: tinyhar("datasets", "uci-har", "--path", b(ctx, tmp)),
            needle=needle)

    def uz(drop=(), replace=None):
        return lambda ctx, tmp: _zip_edit(
            ctx.uci_zip, tmp / "uci.zip", [root + d for d in drop],
            {root + k: v for k, v in (replace or {}).items()})
    u("control", lambda ctx, tmp: ctx.uci_zip, None, expect="ok")
    u("missing_y_test", uz(drop=("test/y_test.txt",)), r"y_test")
    u("label_7", uz(replace={"train/y_train.txt": lambda b: b"7\n" + b.split(b"\n", 1)[1]}),
      r"y_train|7")
    u("subject_rows_mismatch", uz(replace={
        "train/subject_train.txt": lambda b: b"".join(b.splitlines(keepends=True)[:-3])}),
      r"subject_train|rows")
    u("signal_short_row", uz(replace={
        "train/Inertial Signals/body_gyro_x_train.txt":
            lambda b: b" 0.1 0.2\n" + b.split(b"\n", 1)[1]}), r"body_gyro_x_train")
    u("signal_text", uz(replace={
        "test/Inertial Signals/total_acc_z_test.txt": lambda b: b.replace(b"e", b"x", 5)}),
      r"total_acc_z_test")
    u("missing_signal", uz(drop=("test/Inertial Signals/total_acc_y_test.txt",)),
      r"total_acc_y_test")
    u("corrupt_member", lambda ctx, tmp: _corrupt_member(
        ctx.uci_zip, tmp / "uci.zip", root + "train/Inertial Signals/total_acc_x_train.txt"),
      r"total_acc_x_train")
    # WISDM raw text
    good_wisdm = "".join(
        f"{u},{a},{1000000000 + i * 50_000_000},{0.1 * (i % 7):.2f},9.{i % 9},0.{i % 5};\n"
        for u in (1, 2) for a in ("Walking", "Sitting") for i in range(400))

    def w(name, text, needle, expect="error", check=None):
        def setup(ctx, tmp, text=text):
            (tmp / "wisdm.txt").write_bytes(text if isinstance(text, bytes) else text.encode())
            return tinyhar("datasets", "wisdm-raw", "--path", tmp / "wisdm.txt")
        cli(f"wisdm_raw_{name}", "archive", expect, setup, needle=needle, check=check)

    # the WISDM loader documents skipping malformed lines with a warning naming them
    skipped = need_output(r"warn.*wisdm\.txt.*line", "warning naming the skipped line")
    w("control", good_wisdm, None, expect="ok")
    w("timestamp_beyond_int64", good_wisdm.replace(",1000000000,", ",99999999999999999999999,",
                                                  1), r"wisdm\.txt", "either", skipped)
    w("empty", "", r"wisdm\.txt")
    w("all_unknown_activity", good_wisdm.replace("Walking", "Flying").replace(
        "Sitting", "Flying"), r"wisdm\.txt")
    w("value_1e30", good_wisdm.replace(",0.00,", ",1e30,", 1), r"wisdm\.txt", "either", skipped)
    w("timestamps_all_zero", re.sub(r",\d{10,},", ",0,", good_wisdm), r"wisdm\.txt",
      expect="either")

    # WISDM windows npz
    def wn(name, make, needle):
        def setup(ctx, tmp, make=make):
            path = tmp / "windows.npz"
            make(path)
            return tinyhar("datasets", "wisdm-windows", "--path", path)
        cli(f"wisdm_windows_{name}", "archive", "error", setup, needle=needle)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 128, 3)).astype(np.float32)
    y = (np.arange(20) % 6).astype(np.int32)
    subj = (np.arange(20) % 4).astype(np.int64)
    test = subj == 3
    wn("missing_key_y", lambda p: np.savez(p, X=X, subject=subj, is_test=test), r"windows\.npz")
    wn("wrong_shape", lambda p: np.savez(p, X=X[:, :, :2], y=y, subject=subj, is_test=test),
       r"windows\.npz")
    wn("length_mismatch", lambda p: np.savez(p, X=X, y=y[:10], subject=subj, is_test=test),
       r"windows\.npz")
    wn("label_out_of_range", lambda p: np.savez(p, X=X, y=y + 10, subject=subj, is_test=test),
       r"windows\.npz|label")
    wn("garbage", lambda p: p.write_bytes(b"PK\x03\x04garbage"), r"windows\.npz")
    wn("nan_windows", lambda p: np.savez(p, X=np.full_like(X, np.nan), y=y, subject=subj,
                                         is_test=test), r"windows\.npz|nan|finite")


# -- faults: interrupts, concurrency, failing writes ---------------------------------------------

def _wait_for(proc: subprocess.Popen, parent: Path, before: set, trigger, since: float,
              deadline: float) -> bool:
    """Poll until ``trigger`` fires; True if it fired before the process ended.

    ``("time", s)``: s seconds after the start; ``("dir", None)``: a new folder appears
    in ``parent`` (the run folder or a temporary sibling); ``("file", glob)``: a file
    matching ``glob``, written after ``since`` (wall clock), appears in ``parent/out``
    or in a new folder of ``parent``.
    """
    kind, arg = trigger
    t0 = time.perf_counter()
    while proc.poll() is None and time.perf_counter() - t0 < deadline:
        if kind == "time" and time.perf_counter() - t0 >= arg:
            return True
        try:
            dirs = [p for p in parent.iterdir()
                    if p.is_dir() and (p.name not in before or p.name == "out")]
            if kind == "dir" and any(p.name not in before for p in dirs):
                return True
            if kind == "file":
                for d in dirs:
                    for f in d.glob(arg):
                        if f.stat().st_mtime >= since:
                            return True
        except OSError:  # a folder renamed or removed while we looked
            pass
        time.sleep(0.002)
    return False


def _fault_case(name: str, sig: int, trigger, previous: bool) -> None:
    def run(ctx: Ctx, tmp: Path) -> Result:
        work = tmp / "work"
        work.mkdir()
        out = work / "out"
        prev_hashes = None
        if previous:
            shutil.copytree(ctx.run, out)
            prev_hashes = tree_hashes(out)
        before = {p.name for p in work.iterdir()}
        cfg = write_yaml(tmp / "cfg.yaml", base_config(
            ctx, seed=7, **{"model.n_estimators": 4}))
        argv = train_argv(ctx, cfg, out, overwrite=previous)
        t0 = time.perf_counter()
        since = time.time() - 0.01
        proc = subprocess.Popen(argv, cwd=tmp, env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace",
                                start_new_session=True)
        fired = _wait_for(proc, work, before, trigger, since, 90)
        if fired:
            os.killpg(proc.pid, sig)
        try:
            so, se = proc.communicate(timeout=60)
            res = Result(proc.returncode, so, se, False, time.perf_counter() - t0)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            so, se = proc.communicate()
            res = Result(None, so, se, True, time.perf_counter() - t0)
        if fired and res.rc == -sig and sig != signal.SIGINT:
            res.rc = 0  # the harness's own kill is not the tool's crash
        if fired and sig == signal.SIGINT and res.rc in (1, -signal.SIGINT):
            res.rc = 130  # click's "Aborted!" (1) or the default SIGINT death
        res.stderr += "" if fired else "\n[harness: trigger not reached before the end]"
        ctx.extra[name] = (prev_hashes, fired)
        return res

    def state(ctx: Ctx, tmp: Path, res: Result) -> str | None:
        prev_hashes, fired = ctx.extra.get(name, (None, False))
        return run_state(ctx, tmp / "work" / "out", prev_hashes, allowed_seeds={0, 7})
    add(Case(name, "interrupt", "fault", run, state=state,
             note=f"signal {signal.Signals(sig).name} at {trigger}"))


def _interrupt_cases() -> None:
    triggers = {
        "at_2s": ("time", 2.0),
        "folder_appears": ("dir", None),
        "pipeline_written": ("file", "pipeline*"),
        "first_figure": ("file", "*.png"),
        "metrics_written": ("file", "metrics.json"),
    }
    for tname, trig in triggers.items():
        _fault_case(f"interrupt_sigkill_{tname}_fresh", signal.SIGKILL, trig, previous=False)
        _fault_case(f"interrupt_sigkill_{tname}_over_previous", signal.SIGKILL, trig,
                    previous=True)
    for tname in ("folder_appears", "pipeline_written", "first_figure", "metrics_written"):
        _fault_case(f"interrupt_sigint_{tname}_over_previous", signal.SIGINT, triggers[tname],
                    previous=True)
    _fault_case("interrupt_sigint_first_figure_fresh", signal.SIGINT, triggers["first_figure"],
                previous=False)
    _fault_case("interrupt_sigterm_first_figure_over_previous", signal.SIGTERM,
                triggers["first_figure"], previous=True)

    def concurrent(name: str, n: int, previous: bool, stagger: float):
        def run(ctx: Ctx, tmp: Path) -> Result:
            out = tmp / "out"
            if previous:
                shutil.copytree(ctx.run, out)
            procs = []
            for i in range(n):
                cfg = write_yaml(tmp / f"cfg{i}.yaml", base_config(
                    ctx, seed=11 + i, **{"model.n_estimators": 3 + i}))
                procs.append(subprocess.Popen(
                    train_argv(ctx, cfg, out, overwrite=previous), cwd=tmp, env=_env(),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                    start_new_session=True))
                time.sleep(stagger)
            results = []
            for p in procs:
                try:
                    so, se = p.communicate(timeout=TIMEOUT_S)
                    results.append(Result(p.returncode, so, se))
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    so, se = p.communicate()
                    results.append(Result(None, so, se, True))
            winners = {11 + i for i, r in enumerate(results) if r.rc == 0}
            ctx.extra[name] = winners
            bad = next((r for r in results if r.timed_out or r.rc not in (0, 2)
                        or _has_traceback(r.output)), None)
            if bad is not None:
                return bad
            merged = Result(0, "\n".join(r.stdout for r in results),
                            "\n".join(r.stderr for r in results))
            if not winners:
                merged.rc = 2
            return merged

        def state(ctx: Ctx, tmp: Path, res: Result) -> str | None:
            winners = ctx.extra.get(name, set())
            if not winners:
                return "no training succeeded: every concurrent run was refused or failed"
            return run_state(ctx, tmp / "out", None, allowed_seeds=winners, need_present=True)
        add(Case(name, "interrupt", "fault", run, state=state))

    concurrent("concurrent_two_trainings_fresh", 2, False, 0.0)
    concurrent("concurrent_two_trainings_staggered_0.5s", 2, False, 0.5)
    concurrent("concurrent_two_trainings_staggered_1.5s", 2, False, 1.5)
    concurrent("concurrent_two_trainings_over_previous", 2, True, 0.3)
    concurrent("concurrent_three_trainings_fresh", 3, False, 0.2)

    def interleaved(name: str, trigger, previous: bool):
        """Run A until ``trigger``, freeze it (SIGSTOP), run B to the end, let A go on.

        The worst schedule two concurrent trainings into one folder can get,
        made deterministic: B's whole run happens in the middle of A's.
        """
        def run(ctx: Ctx, tmp: Path) -> Result:
            work = tmp / "work"
            work.mkdir()
            out = work / "out"
            if previous:
                shutil.copytree(ctx.run, out)
            before = {p.name for p in work.iterdir()}
            cfg_a = write_yaml(tmp / "a.yaml", base_config(ctx, seed=21))
            cfg_b = write_yaml(tmp / "b.yaml", base_config(
                ctx, seed=22, **{"model.n_estimators": 5}))
            since = time.time() - 0.01
            a = subprocess.Popen(train_argv(ctx, cfg_a, out, overwrite=previous), cwd=tmp,
                                 env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, errors="replace", start_new_session=True)
            fired = _wait_for(a, work, before, trigger, since, 90)
            if fired:
                os.killpg(a.pid, signal.SIGSTOP)
            try:
                rb = run_cmd(train_argv(ctx, cfg_b, out, overwrite=previous), tmp)
            finally:
                if fired:
                    os.killpg(a.pid, signal.SIGCONT)
            try:
                so, se = a.communicate(timeout=TIMEOUT_S)
                ra = Result(a.returncode, so, se)
            except subprocess.TimeoutExpired:
                os.killpg(a.pid, signal.SIGKILL)
                so, se = a.communicate()
                ra = Result(None, so, se, True)
            ctx.extra[name] = {seed for seed, r in ((21, ra), (22, rb)) if r.rc == 0}
            for r in (ra, rb):
                if r.timed_out or r.rc not in (0, 2) or _has_traceback(r.output):
                    return r
            note = "" if fired else "\n[harness: trigger not reached before the end]"
            return Result(0, ra.stdout + rb.stdout, ra.stderr + rb.stderr + note)

        def state(ctx: Ctx, tmp: Path, res: Result) -> str | None:
            winners = ctx.extra.get(name, set())
            if not winners:
                return "no training succeeded: both interleaved runs were refused or failed"
            return run_state(ctx, tmp / "work" / "out", None, allowed_seeds=winners,
                             need_present=True)
        add(Case(name, "interrupt", "fault", run, state=state,
                 note=f"A frozen at {trigger} while B runs"))

    for tname, trig in (("folder_appears", ("dir", None)),
                        ("pipeline_written", ("file", "pipeline*")),
                        ("first_figure", ("file", "*.png"))):
        interleaved(f"concurrent_interleaved_at_{tname}_fresh", trig, previous=False)
    interleaved("concurrent_interleaved_at_first_figure_over_previous", ("file", "*.png"),
                previous=True)

    def evaluate_while_training(ctx: Ctx, tmp: Path) -> Result:
        out = tmp / "out"
        shutil.copytree(ctx.run, out)
        cfg = write_yaml(tmp / "cfg.yaml", base_config(ctx, seed=3, **{"model.n_estimators": 6}))
        proc = subprocess.Popen(train_argv(ctx, cfg, out, overwrite=True), cwd=tmp, env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        results = []
        while proc.poll() is None and len(results) < 6:
            results.append(run_cmd(tinyhar("evaluate", out, "--dataset", ctx.tiny, "--subjects",
                                           "4", "--json"), tmp))
        proc.wait()
        for r in results:
            if r.rc not in (0, 2) or _has_traceback(r.output) or r.timed_out:
                return r
        ctx.extra["eval_while_train"] = results
        return Result(0, "", f"{len(results)} evaluations during the training")

    def eval_state(ctx: Ctx, tmp: Path, res: Result) -> str | None:
        for r in ctx.extra.get("eval_while_train", []):
            m = json_stdout(r)
            if r.rc == 0 and m is not None and m.get("n_windows") == 0:
                return "evaluate scored an empty/mixed folder"
        return run_state(ctx, tmp / "out", tree_hashes(ctx.run), allowed_seeds={0, 3})
    add(Case("concurrent_evaluate_while_training", "interrupt", "fault",
             evaluate_while_training, state=eval_state))


def _fsize_limit(n_bytes: int) -> Callable[[], None]:
    def pre() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, n_bytes))
    return pre


def _writefail_cases() -> None:
    def wf(name: str, limit: int, previous: bool, need_metrics: bool):
        def run(ctx: Ctx, tmp: Path) -> Result:
            out = tmp / "out_wf"
            if previous:
                shutil.copytree(ctx.run, out)
                ctx.extra[name] = tree_hashes(out)
            cfg = write_yaml(tmp / "cfg.yaml", base_config(
                ctx, seed=9, **{"model.n_estimators": 4}))
            return run_cmd(train_argv(ctx, cfg, out, overwrite=previous), tmp,
                           preexec=_fsize_limit(limit))

        def state(ctx: Ctx, tmp: Path, res: Result) -> str | None:
            out = tmp / "out_wf"
            if need_metrics:
                metrics = list(tmp.rglob("metrics.json"))
                if not metrics:
                    return "the computed metrics were lost when a later write failed"
            return run_state(ctx, out, ctx.extra.get(name), allowed_seeds={0, 9})

        add(Case(name, "writefail", "either", run, needle=r"out_wf|write|space|size|too large",
                 state=state, note=f"RLIMIT_FSIZE {limit} bytes"))

    wf("writefail_all_writes_fresh", 1, False, False)
    wf("writefail_all_writes_over_previous", 1, True, False)
    wf("writefail_above_4kB_fresh", 4000, False, False)
    wf("writefail_above_30kB_fresh", 30_000, False, True)
    wf("writefail_above_30kB_over_previous", 30_000, True, True)
    wf("writefail_above_100kB_fresh", 100_000, False, True)
    wf("writefail_above_100kB_over_previous", 100_000, True, True)
    wf("writefail_above_400kB_fresh", 400_000, False, True)


# -- the remaining items of the issue's "What was measured" --------------------------------------

def _issue_cases() -> None:
    cli("issue_evaluate_on_training_dataset_scores_unseen_only", "issue", "ok",
        lambda ctx, tmp: tinyhar("evaluate", copy_run(ctx, tmp), "--dataset", ctx.tiny,
                                 "--json"),
        check=lambda ctx, tmp, res: _unseen_only(ctx, res))
    cli("issue_evaluate_same_data_copy_scores_unseen_only", "issue", "ok",
        lambda ctx, tmp: (shutil.copy(ctx.tiny, tmp / "renamed.parquet") and None) or tinyhar(
            "evaluate", copy_run(ctx, tmp), "--dataset", tmp / "renamed.parquet", "--json"),
        check=lambda ctx, tmp, res: _unseen_only(ctx, res))
    cli("issue_evaluate_include_training_subjects", "issue", "ok",
        lambda ctx, tmp: tinyhar("evaluate", copy_run(ctx, tmp), "--dataset", ctx.tiny,
                                 "--include-training-subjects", "--json"),
        check=lambda ctx, tmp, res: None if (
            set(map(str, (json_stdout(res) or {}).get("subjects", []))) >= {"1", "2", "3"}
            and "warn" in res.stderr.lower()) else "no warning or training subjects not scored")
    cli("issue_readme_preset_wisdm_bilstm", "issue", "ok",
        lambda ctx, tmp: tinyhar("train", "--preset", "wisdm-bilstm", "--out", tmp / "wisdm",
                                 *(["--epochs", "1"] if "--epochs" in ctx.train_help or
                                   "--set" not in ctx.train_help else
                                   ["--set", "model.params.epochs=1"])),
        check=lambda ctx, tmp, res: _metrics_check(tmp / "wisdm", classes=6), timeout=400)
    cli("issue_acc_gyro_run_on_acc_only_data", "issue", "error",
        lambda ctx, tmp: tinyhar("evaluate", copy_run(ctx, tmp), "--dataset",
                                 csv_def(ctx, tmp, mutate_def=_drop_gyro)), needle=r"gyro")
    cli("issue_sampling_rate_1e300", "issue", "error",
        lambda ctx, tmp: describe(csv_def(ctx, tmp, mutate_def=lambda d: {
            **d, "sampling_rate_hz": 1e300})), needle="sampling_rate_hz")
    cli("issue_empty_definition_message", "issue", "error",
        lambda ctx, tmp: then((tmp / "empty.yaml").write_text(""), describe(tmp / "empty.yaml")),
        needle=r"empty\.yaml", forbid=("{type(",))
    cli("issue_out_empty_string", "issue", "error",
        lambda ctx, tmp: tinyhar("train", "--config", write_yaml(
            tmp / "cfg.yaml", base_config(ctx)), "--out", ""), needle=r"out",
        state=lambda ctx, tmp, res: "wrote a run into the current directory" if any(
            tmp.glob("metrics.json")) else None)


def _drop_gyro(d: dict) -> dict:
    for k in ("gyro_x", "gyro_y", "gyro_z"):
        d["columns"].pop(k)
    return d


def _unseen_only(ctx: Ctx, res: Result) -> str | None:
    m = json_stdout(res)
    if m is None:
        return "stdout is not the metrics JSON"
    scored = set(map(str, m.get("subjects", [])))
    train_m = json.loads((ctx.run / "metrics.json").read_text())
    seen = scored & set(map(str, train_m["train_subjects"]))
    if seen:
        return f"scored training subjects {sorted(seen)} (macro-F1 {m['macro_f1']:.3f})"
    return None


DRIVER_C = r"""
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "tinyhar_model.h"
/* Classify one adversarial window; a negative return value is a refusal. */
int main(int argc, char **argv) {
    static float w[TINYHAR_WINDOW_VALUES];
    float proba[TINYHAR_N_CLASSES];
    const char *k = argc > 1 ? argv[1] : "zeros";
    const int C = TINYHAR_N_CHANNELS, mid = TINYHAR_N_SAMPLES / 2;
    for (int i = 0; i < TINYHAR_WINDOW_VALUES; i++) w[i] = (i % C == 2) ? 1.0f : 0.0f;
    if (!strcmp(k, "all_nan")) for (int i = 0; i < TINYHAR_WINDOW_VALUES; i++) w[i] = NAN;
    if (!strcmp(k, "one_nan")) w[mid * C] = NAN;
    if (!strcmp(k, "plus_inf")) w[mid * C] = INFINITY;
    if (!strcmp(k, "minus_inf")) w[mid * C] = -INFINITY;
    if (!strcmp(k, "plus_1e30")) w[mid * C] = 1e30f;
    if (!strcmp(k, "minus_1e30")) w[mid * C] = -1e30f;
    if (!strcmp(k, "alternating_1e30"))
        for (int i = 0; i < TINYHAR_WINDOW_VALUES; i++) w[i] = (i % 2) ? 1e30f : -1e30f;
    if (!strcmp(k, "spike_1e6")) w[5 * C] = 1e6f;
    if (!strcmp(k, "denormals")) for (int i = 0; i < TINYHAR_WINDOW_VALUES; i++) w[i] = 1e-40f;
    if (!strcmp(k, "constant")) for (int i = 0; i < TINYHAR_WINDOW_VALUES; i++) w[i] = 0.5f;
    if (!strcmp(k, "zeros")) for (int i = 0; i < TINYHAR_WINDOW_VALUES; i++) w[i] = 0.0f;
    int r = tinyhar_classify(w, proba);
    if (r < 0) {
        fprintf(stderr, "error: tinyhar_classify refused the %s window (code %d)\n", k, r);
        return 2;
    }
    printf("class %d\n", r);
    return 0;
}
"""


def _c_build(ctx: Ctx) -> Path | None:
    """Export the template run to C and build the adversarial driver and the example."""
    if shutil.which("gcc") is None:
        return None
    cdir = ctx.base / "c_export"
    with _C_LOCK:
        if not (cdir / "example").exists():
            _c_build_locked(ctx, cdir)
    return cdir


_C_LOCK = threading.Lock()


def _c_build_locked(ctx: Ctx, cdir: Path) -> None:
    shutil.rmtree(cdir, ignore_errors=True)
    res = run_cmd(tinyhar("export", ctx.run, "--target", "c", "--no-profile", "--out", cdir),
                  ctx.base)
    if res.rc != 0:
        raise RuntimeError(f"C export of the template run failed: {_last_line(res.output)}")
    (cdir / "adv.c").write_text(DRIVER_C)
    for target, sources in (("adv", ["adv.c"]), ("example", ["main.c"])):
        res = run_cmd(["gcc", "-O1", "-std=c99", "-o", target, *sources, "tinyhar_model.c",
                       "-lm"], cdir)
        if res.rc != 0:
            raise RuntimeError(f"gcc failed for {target}: {_last_line(res.output)}")


def _device_cases() -> None:
    if shutil.which("gcc") is None:
        return  # the C cases need a host compiler
    kinds = {"all_nan": "error", "one_nan": "error", "plus_inf": "error", "minus_inf": "error",
             "plus_1e30": "error", "minus_1e30": "error", "alternating_1e30": "error",
             "spike_1e6": "either", "denormals": "ok", "constant": "ok", "zeros": "ok"}
    for kind, expect in kinds.items():
        cli(f"device_c_classify_{kind}", "device", expect,
            lambda ctx, tmp, k=kind: [str(_c_build(ctx) / "adv"), k],
            needle=r"refused", check=need_output(r"class \d", "a class"))

    def stream(bad_line: str):
        def run(ctx: Ctx, tmp: Path) -> Result:
            rows = ["0.0,0.0,1.0,0.0,0.0,0.0"] * 300
            rows[150] = bad_line
            (tmp / "in.csv").write_text("\n".join(rows) + "\n")
            exe = _c_build(ctx) / "example"
            with open(tmp / "in.csv") as fh:
                proc = subprocess.run([str(exe)], stdin=fh, capture_output=True, text=True,
                                      errors="replace", timeout=60, cwd=tmp)
            res = Result(proc.returncode, proc.stdout, proc.stderr)
            # required: a report naming the line (going on or stopping), or the windows
            # holding the non-finite sample marked invalid -- never a silently dropped line
            marked = [ln for ln in proc.stdout.splitlines() if re.search(r"invalid|error", ln)]
            if re.search(r"151", proc.stderr) or marked:
                res.rc = 2
                res.stderr = "error: " + (proc.stderr.strip() or f"windows marked: {marked[0]}")
            return res
        return run
    for name, bad in (("nan", "nan,0.0,1.0,0.0,0.0,0.0"), ("inf", "inf,0.0,1.0,0.0,0.0,0.0"),
                      ("text", "abc,0.0,1.0,0.0,0.0,0.0")):
        add(Case(f"device_c_example_stream_{name}_line", "device", "error", stream(bad),
                 needle=r"151|invalid", note="the example must report the line, not skip it"))


def build_catalogue() -> list[Case]:
    """Every case, in a fixed order; names are unique."""
    CASES.clear()
    for part in (_issue_cases, _csv_cases, _definition_cases, _parquet_cases, _npy_cases,
                 _config_cases, _cli_cases, _runfolder_cases, _api_cases, _plausibility_cases,
                 _archive_cases, _device_cases, _interrupt_cases, _writefail_cases):
        part()
    names = [c.name for c in CASES]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise RuntimeError(f"duplicate case names: {sorted(dup)}")
    return list(CASES)


# ---------------------------------------------------------------------------------------------
# running the catalogue


def run_case(ctx: Ctx, case: Case, root: Path) -> Outcome:
    tmp = root / case.name
    tmp.mkdir()
    t0 = time.perf_counter()
    try:
        res = case.run(ctx, tmp)
    except Exception as exc:  # the harness failed to build the inputs
        return Outcome(case.name, case.group, "crash", f"harness error: {exc!r}"[:200],
                       time.perf_counter() - t0)
    check_failure = state_failure = None
    try:
        if case.check is not None and res.rc == 0 and not res.timed_out:
            check_failure = case.check(ctx, tmp, res)
        if case.state is not None:
            state_failure = case.state(ctx, tmp, res)
    except Exception as exc:
        check_failure = f"check raised {exc!r}"[:200]
    outcome, reason = classify(case.expect, res, case.needle, case.forbid, check_failure,
                               state_failure)
    shutil.rmtree(tmp, ignore_errors=True)
    return Outcome(case.name, case.group, outcome, reason, time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object of counts")
    ap.add_argument("--only", metavar="PATTERN", help="run cases whose name or group matches")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args(argv)
    cases = build_catalogue()
    if args.only:
        rx = re.compile(args.only)
        cases = [c for c in cases if rx.search(c.name) or rx.search(c.group)]
    if args.list:
        for c in cases:
            print(f"{c.group:13s} {c.expect:7s} {c.name}")
        print(f"{len(cases)} cases")
        return 0
    t0 = time.perf_counter()
    # a SIGTERM ends the run through the ``finally`` below, which removes the temporary folder
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    root = Path(tempfile.mkdtemp(prefix="tinyhar-robustness-"))
    try:
        ctx = prepare(root / "fixtures")
        runs = root / "cases"
        runs.mkdir()
        lock = threading.Lock()
        done: list[Outcome] = []
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            futures = [pool.submit(run_case, ctx, c, runs) for c in cases]
            for fut in concurrent.futures.as_completed(futures):
                o = fut.result()
                with lock:
                    done.append(o)
                if not args.json:
                    print(f"[{len(done):3d}/{len(cases)}] {o.outcome:12s} {o.name}",
                          file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    counts = {"cases": len(done), **{k: sum(o.outcome == k for o in done) for k in OUTCOMES}}
    if args.json:
        print(json.dumps(counts))
        return 0
    order = {"lost_state": 0, "crash": 1, "silent_wrong": 2, "good_error": 3, "ok": 4}
    done.sort(key=lambda o: (order[o.outcome], o.group, o.name))
    buf = io.StringIO()
    for o in done:
        buf.write(f"{o.outcome:12s} {o.group:12s} {o.name:58s} {o.seconds:5.1f}s  {o.reason}\n")
    print(buf.getvalue(), end="")
    print(json.dumps(counts))
    print(f"{len(done)} cases in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

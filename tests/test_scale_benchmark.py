"""The scale benchmark's measured child (benchmarks/scale.py) on a small data set.

The benchmark itself is not run here (minutes, and timings are not tested):
this checks that its child runs end to end, gives the same rows and score
with 1 worker and 2, and sends the session tasks to the workers before it
imports scikit-learn (as ``tinyhar train`` does).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SPY_ON_DISPATCH
from tinyhar.datasets.synthetic import synthesize

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def definition(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "data"
    synthesize(out, 5, 0.1, session_hours=0.05, seed=11)
    return str(out / "data.yaml")


def test_the_child_dispatches_before_scikit_learn_and_any_worker_count_agrees(definition):
    code = SPY_ON_DISPATCH + (
        f"sys.path.insert(0, {str(BENCHMARKS)!r})\n"
        "import json, scale\n"
        "two = scale.child(sys.argv[1], 2, 'threads')\n"
        "one = scale.child(sys.argv[1], 1)\n"
        "print(json.dumps({'seen': seen, 'two': two, 'one': one}))\n")
    out = subprocess.run([sys.executable, "-c", code, definition], capture_output=True,
                         text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["seen"][0] is False  # the first run: nothing imported scikit-learn before
    two, one = got["two"], got["one"]
    assert two["failed"] == one["failed"] == 0
    assert two["windows"] == one["windows"] > 1000  # 5 x 0.1 h, hop 1.28 s
    assert two["macro_f1"] == one["macro_f1"]  # the same forest for any n_jobs
    assert 0.3 < one["macro_f1"] <= 1


def test_short_sessions_case_and_bad_numbers(tmp_path, capsys):
    """``--session-minutes`` cuts each subject's hours into session files of that length
    (a data set of many short sessions); a number <= 0 is an argparse error, not a
    traceback."""
    sys.path.insert(0, str(BENCHMARKS))
    import scale

    path = scale.dataset(tmp_path, 0.5, 50.0, session_minutes=1)  # 10 subjects x 3 min
    summary = json.loads((path.parent / "synthetic.json").read_text())
    assert path.parent.name == "0.5h-50hz-1min"
    assert summary["n_subjects"] == 10 and summary["n_sessions"] == 30
    assert len(list((path.parent / "recordings").glob("*.parquet"))) == 30
    for argv, message in ((["--session-minutes", "0"], "minutes must be a number > 0"),
                          (["--hours", "-1"], "hours must be a number > 0")):
        with pytest.raises(SystemExit):
            scale.main(argv)
        assert message in capsys.readouterr().err

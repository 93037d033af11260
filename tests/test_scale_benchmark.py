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

import numpy as np
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
        "one = scale.child(sys.argv[1], 1, fit_work=True)\n"
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
    assert "sort_work" not in two  # only when asked
    # 10 trees sort their bootstrap rows (~63 % distinct) at each level: at least at the root
    assert 10 * 0.5 * one["windows"] * 0.8 < one["node_samples"] < 10 * 10 * one["windows"]
    mean_log2 = one["sort_work"] / one["node_samples"]
    assert 1 < mean_log2 < np.log2(one["windows"])
    assert one["fit_cpu_ns_per_sort_work"] > 0


def test_sort_work_of_a_known_forest():
    """Two trees on all 6 rows (no bootstrap): a root of 6 rows, then a pure side of 2 and a
    node of 4 that splits into two pure leaves; sum(m) = 10, sum(m log2 m) = 6 log2 6 + 8."""
    from sklearn.ensemble import RandomForestClassifier

    sys.path.insert(0, str(BENCHMARKS))
    import scale

    X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    y = np.array([0, 0, 1, 1, 2, 2])
    forest = RandomForestClassifier(n_estimators=2, bootstrap=False, max_features=None,
                                    random_state=0).fit(X, y)
    got = scale.sort_work(forest)
    assert got["node_samples"] == 2 * (6 + 4)
    assert got["sort_work"] == pytest.approx(2 * (6 * np.log2(6) + 4 * 2), abs=0.05)


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


def test_speedups_and_target_checks_of_known_rows():
    """Rows of one run (numbers from session 16's run): the 2-worker speedup over 1 worker at
    the same hours, and each target's verdict (+-20 % means fastest/slowest <= 1.5)."""
    sys.path.insert(0, str(BENCHMARKS))
    import scale

    rows = [{"hours": 10.0, "workers": 1, "windows_per_s": 3633.0, "job_windows_per_s": 4228.9,
             "peak_rss_mb": 319.7},
            {"hours": 100.0, "workers": 1, "windows_per_s": 5767.8, "job_windows_per_s": 5902.3,
             "peak_rss_mb": 549.6},
            {"hours": 1000.0, "workers": 1, "windows_per_s": 4861.4,
             "job_windows_per_s": 4870.3, "peak_rss_mb": 3130.3},
            {"hours": 100.0, "workers": 2, "windows_per_s": 8965.8, "job_windows_per_s": 9402.6,
             "peak_rss_mb": 1138.6},
            {"hours": 30.0, "workers": 2, "windows_per_s": 1.0, "job_windows_per_s": 1.0,
             "peak_rss_mb": 1.0}]
    scale.add_speedups(rows)
    assert rows[3]["speedup"] == round(8965.8 / 5767.8, 3) == 1.554
    assert "speedup" not in rows[4] and all("speedup" not in r for r in rows[:3])
    assert scale.target_checks(rows) == [
        "peak memory at 1000 h: 3.06 GB (met: <= 6 GB)",
        "windows_per_s from 10 to 1000 h: 3,633 to 5,768, fastest/slowest 1.59 "
        "(not met: +-20 % needs <= 1.50)",
        "job_windows_per_s from 10 to 1000 h: 4,229 to 5,902, fastest/slowest 1.40 "
        "(met: +-20 % needs <= 1.50)",
        "2 workers at 100 h: 1.55x 1 worker (not met: >= 1.7x)"]
    assert scale.target_checks([]) == []

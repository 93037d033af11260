"""The robustness benchmark's catalogue and outcome rules (benchmarks/robustness.py).

The catalogue itself is not run here (it takes minutes); these tests check
that it is what issue 8 asks for (at least 200 uniquely named cases covering
every kind of fault) and that results are classified by the documented rules.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "robustness.py"


@pytest.fixture(scope="module")
def rb():
    spec = importlib.util.spec_from_file_location("robustness_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_catalogue_has_at_least_200_unique_cases(rb):
    cases = rb.build_catalogue()
    names = [c.name for c in cases]
    assert len(names) >= 200
    assert len(set(names)) == len(names)
    assert all(c.expect in ("error", "ok", "either", "fault") for c in cases)


def test_catalogue_covers_every_kind_of_fault(rb):
    cases = rb.build_catalogue()
    groups = {c.group for c in cases}
    assert {
        "issue", "csv", "parquet", "npy", "definition", "config", "cli", "runfolder",
        "archive", "plausibility", "interrupt", "writefail", "api",
    } <= groups
    names = " ".join(c.name for c in cases)
    for needed in ("sigkill", "sigint", "concurrent", "crafted_pickle", "corrupt_deflate",
                   "labels_activity_13", "max_features_banana", "seed_minus_1",
                   "rate_25_declared", "acc_ms2_declared_g", "non_utf8", "truncated"):
        assert needed in names, needed
    # every error case says what its message must name
    assert all(c.needle for c in cases if c.expect == "error")




def result(rb, rc, stdout="", stderr="", timed_out=False):
    return rb.Result(rc, stdout, stderr, timed_out)


def test_error_cases(rb):
    msg = "error: data/a.csv, line 3, column ax: acc_x value 'abc' is not a finite number"
    assert rb.classify("error", result(rb, 2, stderr=msg), r"a\.csv")[0] == "good_error"
    # the message does not name the file: misleading
    assert rb.classify("error", result(rb, 2, stderr="error: bad value"), r"a\.csv")[0] == (
        "silent_wrong"
    )
    # a forbidden, unformatted template in the message
    out = rb.classify("error", result(rb, 2, stderr="error: a.yaml: got {type(raw).__name__}"),
                      r"a\.yaml", forbid=("{type(",))
    assert out[0] == "silent_wrong"
    # accepted silently
    assert rb.classify("error", result(rb, 0), r"a\.csv")[0] == "silent_wrong"
    tb = "Traceback (most recent call last):\n  File x\nzlib.error: invalid block\n"
    outcome, reason = rb.classify("error", result(rb, 1, stderr=tb), r"a\.csv")
    assert outcome == "crash" and "zlib.error" in reason
    # click's "Aborted!" (exit 1) and a signal are crashes too
    assert rb.classify("error", result(rb, 1, stderr="Aborted!"), None)[0] == "crash"
    assert rb.classify("error", result(rb, -11), None)[0] == "crash"
    assert rb.classify("error", result(rb, None, timed_out=True), None)[0] == "crash"
    # a needle broken over two lines by a narrow console still counts
    wrapped = "error: /tmp/some/long/folder/da\nta.csv: file is empty"
    assert rb.classify("error", result(rb, 2, stderr=wrapped), r"data\.csv")[0] == "good_error"


def test_ok_and_either_cases(rb):
    assert rb.classify("ok", result(rb, 0))[0] == "ok"
    assert rb.classify("ok", result(rb, 0), check_failure="scored training subjects")[0] == (
        "silent_wrong"
    )
    # refusing a valid input is a failure of the tool, not the user's mistake
    assert rb.classify("ok", result(rb, 2, stderr="error: no such option"))[0] == "crash"
    assert rb.classify("either", result(rb, 2, stderr="error: a.csv: NaN"), r"a\.csv")[0] == (
        "good_error"
    )
    assert rb.classify("either", result(rb, 0))[0] == "ok"
    assert rb.classify("either", result(rb, 0), check_failure="no warning")[0] == "silent_wrong"


def test_state_failures_win(rb):
    # lost state is reported even when the command itself looked fine
    for expect, rc in (("ok", 0), ("error", 2), ("fault", 0), ("either", 1)):
        outcome = rb.classify(expect, result(rb, rc, stderr="error: x"), "x",
                              state_failure="out mixes two runs")
        assert outcome == ("lost_state", "out mixes two runs")


def test_fault_cases(rb):
    # the harness's own kill (rc mapped to 0), SIGINT's 130, a clean refusal: fine
    for rc in (0, 2, 130):
        assert rb.classify("fault", result(rb, rc))[0] == "ok"
    assert rb.classify("fault", result(rb, 1, stderr="Traceback (most recent call last):"))[
        0
    ] == "crash"
    assert rb.classify("fault", result(rb, None, timed_out=True))[0] == "crash"
    assert rb.classify("fault", result(rb, 3))[0] == "crash"

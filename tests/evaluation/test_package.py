"""Public names import from tinyhar.evaluation and tinyhar.reporting, lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["tinyhar.evaluation", "tinyhar.reporting",
                                     "tinyhar.models", "tinyhar.datasets"])
def test_every_public_name_is_its_modules_own(package):
    pkg = importlib.import_module(package)
    assert pkg.__all__ == sorted(set(pkg.__all__)) and pkg.__all__
    assert set(pkg.__all__) <= set(dir(pkg))
    if package == "tinyhar.models":
        pytest.importorskip("torch")  # NeuralNetClassifier and PRESETS need the deep extra
    for name in pkg.__all__:
        value = getattr(pkg, name)  # imports the defining module
        assert vars(pkg)[name] is value  # cached in the package
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'Nope'"):
        pkg.Nope  # noqa: B018


def test_evaluation_and_reporting_names():
    from tinyhar.evaluation import LeakageWarning, classification_metrics, holdout_split
    from tinyhar.evaluation.metrics import classification_metrics as metrics
    from tinyhar.evaluation.splits import LeakageWarning as leakage
    from tinyhar.evaluation.splits import holdout_split as split
    from tinyhar.reporting import plot_confusion_matrix, plural, write_summary
    from tinyhar.reporting.plots import plot_confusion_matrix as confusion
    from tinyhar.reporting.summary import write_summary as summary
    from tinyhar.reporting.text import plural as words

    assert (classification_metrics, holdout_split, LeakageWarning) == (metrics, split, leakage)
    assert (plot_confusion_matrix, write_summary, plural) == (confusion, summary, words)
    scores = classification_metrics(["a", "b", "b"], ["a", "b", "a"], ["a", "b"])
    assert scores["accuracy"] == pytest.approx(2 / 3)
    assert plural(1, "subject") == "1 subject" and plural(3, "subject") == "3 subjects"


def test_importing_the_packages_imports_no_heavy_library():
    code = ("import sys, tinyhar.evaluation, tinyhar.reporting; "
            "print(sorted(m for m in ('sklearn', 'matplotlib', 'pandas', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_a_name_listed_twice_is_refused():
    from tinyhar.lazy import lazy_exports

    with pytest.raises(ValueError, match="'f' listed under a and b"):
        lazy_exports("pkg", {"a": ("f",), "b": ("f", "g")})

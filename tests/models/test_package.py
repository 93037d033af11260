"""Public types import from tinyhar.models, lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_public_types_import_from_tinyhar_models() -> None:
    import tinyhar.models as package
    from tinyhar.models import MODEL_KINDS, PIPELINE_FILE, HarPipeline, TreeEnsembleClassifier
    from tinyhar.models.pipeline import PIPELINE_FILE as file_name
    from tinyhar.models.pipeline import HarPipeline as pipeline
    from tinyhar.models.trees import MODEL_KINDS as kinds
    from tinyhar.models.trees import TreeEnsembleClassifier as trees

    assert (HarPipeline, PIPELINE_FILE, TreeEnsembleClassifier, MODEL_KINDS) == (
        pipeline, file_name, trees, kinds)
    assert set(package.__all__) <= set(dir(package))
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        package.Nope  # noqa: B018


def test_network_names_import_from_tinyhar_models() -> None:
    pytest.importorskip("torch")
    from tinyhar.models import PRESETS, NeuralNetClassifier, make_estimator
    from tinyhar.models.nn import PRESETS as presets
    from tinyhar.models.nn import NeuralNetClassifier as net
    from tinyhar.models.nn import make_estimator as make

    assert (NeuralNetClassifier, PRESETS, make_estimator) == (net, presets, make)


def test_importing_the_package_imports_neither_the_ensembles_nor_torch() -> None:
    code = ("import sys, tinyhar.models, tinyhar.models.nn.presets; "
            "print(sorted(m for m in ('torch', 'sklearn.ensemble') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"

"""``compute.out_of_core: auto`` reads session by session when the data would not fit in
memory, judged from the files' sample counts (compressed Parquet is small on disk)."""

from __future__ import annotations

import numpy as np
import pytest

from tinyhar.config import make_config
from tinyhar.datasets.custom import estimated_samples
from tinyhar.datasets.synthetic import synthesize
from tinyhar.training import reads_by_session
from tinyhar.windows.source import IN_MEMORY_BYTES_PER_VALUE


@pytest.fixture(scope="module")
def definition(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "data"
    synthesize(out, 2, 0.1, session_hours=0.05, seed=3)  # 2 x 0.1 h at 50 Hz: 36,000 samples
    return str(out / "data.yaml")


def test_parquet_samples_come_from_the_metadata(definition):
    assert estimated_samples(definition) == (36_000, 6)


def test_csv_samples_are_estimated_from_the_first_lines(tmp_path):
    rng = np.random.default_rng(0)
    n = 20_000
    rows = "\n".join(f"{k / 50:.3f},{a:.5f},{b:.5f},{c:.5f}"
                     for k, (a, b, c) in enumerate(rng.normal(size=(n, 3))))
    (tmp_path / "s1_a.csv").write_text("t,ax,ay,az\n" + rows + "\n")
    (tmp_path / "data.yaml").write_text(
        "name: csvset\nfiles: '*.csv'\nsampling_rate_hz: 50\n"
        "columns: {time: t, acc_x: ax, acc_y: ay, acc_z: az}\n"
        "units: {time: s, acc: g}\nfile_pattern: '(?P<subject>[^_]+)_(?P<session>\\w+)\\.csv'\n"
        "constants: {label: walking}\n")
    definition = str(tmp_path / "data.yaml")
    samples, channels = estimated_samples(definition)
    assert channels == 3
    assert abs(samples - n) < 0.03 * n  # the lines' lengths vary a little


def test_auto_goes_out_of_core_when_the_samples_would_not_fit(definition, monkeypatch):
    cfg = make_config({"dataset": {"name": definition}}, "test")
    need = 36_000 * 6 * IN_MEMORY_BYTES_PER_VALUE  # 8 MB in memory; 1.1 MB on disk
    monkeypatch.setenv("TINYHAR_MEMORY_LIMIT_GB", str(4 * need / 1e9))
    assert not reads_by_session(cfg)
    monkeypatch.setenv("TINYHAR_MEMORY_LIMIT_GB", str(1.5 * need / 1e9))
    assert reads_by_session(cfg)
    false = make_config({"dataset": {"name": definition}, "compute": {"out_of_core": False}},
                        "test")
    assert not reads_by_session(false)  # asked for: in memory


def test_loading_a_definition_whole_that_would_not_fit_is_refused(definition, monkeypatch):
    from tinyhar.errors import ConfigError
    from tinyhar.windows.source import load_data

    need = 36_000 * 6 * IN_MEMORY_BYTES_PER_VALUE
    monkeypatch.setenv("TINYHAR_MEMORY_LIMIT_GB", str(0.5 * need / 1e9))
    cfg = make_config({"dataset": {"name": definition}, "compute": {"out_of_core": False}},
                      "test")
    with pytest.raises(ConfigError, match=r"data\.yaml: loading it whole would need about "
                                          r"0\.00799 GB .*compute\.out_of_core: true"):
        load_data(cfg)
    monkeypatch.setenv("TINYHAR_MEMORY_LIMIT_GB", str(2 * need / 1e9))
    assert load_data(cfg).n_samples == 36_000


def test_the_decision_lists_the_files_once(definition, monkeypatch):
    """`reads_by_session` judges the files' bytes and their samples from one listing."""
    import tinyhar.datasets.custom as custom
    import tinyhar.datasets.sessions as sessions

    need = 36_000 * 6 * IN_MEMORY_BYTES_PER_VALUE
    real, calls = custom.resolve_files, []

    def spy(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    for module in (custom, sessions):  # sessions imported it by name
        monkeypatch.setattr(module, "resolve_files", spy)
    cfg = make_config({"dataset": {"name": definition}}, "test")
    for factor, expected in ((4, False), (1.5, True)):
        calls.clear()
        monkeypatch.setenv("TINYHAR_MEMORY_LIMIT_GB", str(factor * need / 1e9))
        assert reads_by_session(cfg) is expected
        assert calls == [definition]


def test_in_memory_training_estimates_the_samples_once(definition, monkeypatch, tmp_path):
    """The decision's estimate is the one the whole read checks against (not made again)."""
    import tinyhar.datasets.custom as custom
    from tinyhar.training import train

    need = 36_000 * 6 * IN_MEMORY_BYTES_PER_VALUE
    monkeypatch.setenv("TINYHAR_MEMORY_LIMIT_GB", str(4 * need / 1e9))  # fits: in memory
    real, calls = custom.estimated_samples, []
    monkeypatch.setattr(custom, "estimated_samples",
                        lambda *a, **kw: calls.append(a[0]) or real(*a, **kw))
    cfg = make_config({"dataset": {"name": definition},
                       "evaluation": {"test_subjects": ["s001"], "cv_folds": 0},
                       "model": {"n_estimators": 2, "max_depth": 3}}, "test")
    metrics = train(cfg, tmp_path / "run")
    assert metrics.get("out_of_core") is None and calls == [definition]

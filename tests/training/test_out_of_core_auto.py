"""``compute.out_of_core: auto`` reads session by session when the data would not fit in
memory, judged from the files' sample counts (compressed Parquet is small on disk)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyhar.config import make_config
from tinyhar.datasets.sessions import session_sources
from tinyhar.datasets.synthetic import synthesize
from tinyhar.training import reads_by_session
from tinyhar.training.sessions import IN_MEMORY_BYTES_PER_VALUE, _estimated_samples


@pytest.fixture(scope="module")
def definition(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "data"
    synthesize(out, 2, 0.1, session_hours=0.05, seed=3)  # 2 x 0.1 h at 50 Hz: 36,000 samples
    return str(out / "data.yaml")


def _files(definition: str) -> list[Path]:
    return [Path(f) for s in session_sources(definition) for f in s.files]


def test_parquet_samples_come_from_the_metadata(definition):
    assert _estimated_samples(definition, _files(definition)) == (36_000, 6)


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
    samples, channels = _estimated_samples(definition, _files(definition))
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


def test_in_memory_training_that_would_not_fit_is_refused(definition, monkeypatch):
    from tinyhar.errors import ConfigError

    need = 36_000 * 6 * IN_MEMORY_BYTES_PER_VALUE
    monkeypatch.setenv("TINYHAR_MEMORY_LIMIT_GB", str(0.5 * need / 1e9))
    for settings in ({"compute": {"out_of_core": False}},
                     {"model": {"kind": "cnn1d"}}):  # networks train in memory
        cfg = make_config({"dataset": {"name": definition}, **settings}, "test")
        with pytest.raises(ConfigError, match=r"data\.yaml: training in memory would need "
                                              r"about 0\.00799 GB .*compute\.out_of_core: true"):
            reads_by_session(cfg)

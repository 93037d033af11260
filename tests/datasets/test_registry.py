"""Registry: names, data-folder lookup, YAML/Parquet paths, descriptions, errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tinyhar.datasets import registry
from tinyhar.datasets.recording import RecordingSet
from tinyhar.datasets.registry import DATASETS, describe_dataset, find_data_dir, load_dataset
from tinyhar.errors import ConfigError, DataFormatError, TinyharError


def test_registry_entries():
    assert list(DATASETS) == ["hapt", "hapt-raw", "uci-har", "wisdm-windows", "wisdm-raw"]
    assert DATASETS["uci-har"].kind == "windows"
    assert DATASETS["hapt"].kind == "recordings" and DATASETS["hapt"].default_file is None
    assert DATASETS["wisdm-raw"].default_file is None
    assert DATASETS["wisdm-windows"].sampling_rate_hz == 20.0
    assert DATASETS["hapt-raw"].default_file == "HAPT Data Set.zip"
    for info in DATASETS.values():
        assert info.description


def test_each_entry_names_its_loader_and_options():
    """The options an entry lists are the keyword options its loader takes."""
    import inspect

    for info in DATASETS.values():
        loader = registry.dataset_loader(info)
        params = set(inspect.signature(loader).parameters) - {"path", "checks"}
        assert params == set(info.options), info.name


def test_population_and_test_subject_facts():
    """Who each data set was recorded from and its test subjects live in its entry."""
    from tinyhar.evaluation.splits import OFFICIAL_TEST_SUBJECTS

    official = ("2", "4", "9", "10", "12", "13", "18", "20", "24")  # Anguita et al. 2013
    for name in ("hapt", "hapt-raw", "uci-har"):
        assert DATASETS[name].population == "smartlab-30"
        assert DATASETS[name].official_test_subjects == official
        assert not DATASETS[name].renumbered_subjects
    assert OFFICIAL_TEST_SUBJECTS == official
    assert DATASETS["wisdm-raw"].population == DATASETS["wisdm-windows"].population
    assert DATASETS["wisdm-windows"].renumbered_subjects
    assert not DATASETS["wisdm-raw"].official_test_subjects
    # the tutorial's users 31-36; the windows file numbers users 0-35
    assert DATASETS["wisdm-raw"].tutorial_test_subjects == ("31", "32", "33", "34", "35", "36")
    assert DATASETS["wisdm-windows"].tutorial_test_subjects == ("30", "31", "32", "33", "34",
                                                                "35")


def test_a_new_data_set_is_one_entry(monkeypatch, tmp_path):
    """An entry (with its loader) is all load_dataset and evaluate need to know."""
    from tinyhar.datasets.info import DatasetInfo
    from tinyhar.evaluate import shares_subjects

    (tmp_path / "my_loader.py").write_text(
        "def load(path, checks=None, gain=1.0):\n    return path.name, gain\n"
    )
    (tmp_path / "mine.bin").write_bytes(b"")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("TINYHAR_DATA", str(tmp_path))
    info = DatasetInfo("mine", "my set", "recordings", 100.0, "mine.bin", "my_loader:load",
                       ("gain",), population="wisdm-v1.1")
    monkeypatch.setitem(DATASETS, "mine", info)
    assert load_dataset("mine", gain=2.0) == ("mine.bin", 2.0)
    with pytest.raises(ConfigError, match=r"does not take options \['scale'\]"):
        load_dataset("mine", scale=2.0)
    assert shares_subjects("mine", "wisdm-raw") and not shares_subjects("mine", "hapt")


def test_find_data_dir_prefers_env(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYHAR_DATA", str(tmp_path))
    assert find_data_dir() == tmp_path
    monkeypatch.delenv("TINYHAR_DATA")
    monkeypatch.chdir(tmp_path)
    found = find_data_dir()
    repo_shared = (Path(registry.__file__).resolve().parents[3] / ".." / "shared" / "data")
    if repo_shared.is_dir():
        assert found == repo_shared.resolve()
    else:
        assert found is None
    (tmp_path / "data").mkdir()
    if not repo_shared.is_dir():
        assert find_data_dir() == (tmp_path / "data").resolve()


def test_unknown_name_lists_known_names():
    with pytest.raises(ConfigError) as err:
        load_dataset("hapd")
    for name in DATASETS:
        assert name in str(err.value)


def test_missing_file_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYHAR_DATA", str(tmp_path))
    with pytest.raises(TinyharError) as err:
        load_dataset("uci-har")
    message = str(err.value)
    assert str(tmp_path / "UCI HAR Dataset.zip") in message
    assert "--path" in message and "TINYHAR_DATA" in message
    with pytest.raises(TinyharError, match="needs|--path"):
        load_dataset("wisdm-raw")
    with pytest.raises(TinyharError, match="does not exist"):
        load_dataset("hapt-raw", path=tmp_path / "nope.zip")
    with pytest.raises(TinyharError, match="no such file"):
        load_dataset(tmp_path / "absent.yaml")


def test_options_are_checked():
    with pytest.raises(ConfigError, match="takes no options"):
        load_dataset("hapt", activities="all")
    with pytest.raises(ConfigError, match=r"does not take options \['colour'\]"):
        load_dataset("uci-har", path=".", colour="red")


def test_bundled_default_and_describe():
    rec = load_dataset("hapt")
    info = describe_dataset(rec)
    assert info["name"] == "hapt" and info["kind"] == "recordings"
    assert info["n_subjects"] == 30 and info["n_sessions"] == 61
    assert info["sampling_rate_hz"] == 50.0
    assert info["channels"] == ["acc_x", "acc_y", "acc_z", "gyro_x", "gyro_y", "gyro_z"]
    assert list(info["hours_per_class"])[:6] == info["classes"]
    assert info["hours_per_class"]["WALKING"] == pytest.approx(122_091 / 50 / 3600)
    assert "unlabelled" in info["hours_per_class"]
    assert "Neurocomputing" in info["citation"] and "CC BY 4.0" in info["licence"]


def test_named_sets_from_the_data_folder(shared_data_dir, monkeypatch):
    monkeypatch.setenv("TINYHAR_DATA", str(shared_data_dir))
    windows = load_dataset("wisdm-windows")
    info = describe_dataset(windows)
    assert info["kind"] == "windows" and info["n_windows"] == 7292
    assert sum(info["windows_per_class"].values()) == 7292
    assert info["units"] == "z-scored per axis, not g"
    assert info["n_subjects"] == 36


def test_uci_description(uci_default):
    info = describe_dataset(uci_default)
    assert info["windows_per_split"] == {"test": 2947, "train": 7352}
    assert info["windows_per_class"]["LAYING"] == 1944
    assert info["window_s"] == pytest.approx(2.56)


def test_hapt_raw_with_path_and_options(hapt_subset):
    rec = load_dataset("hapt-raw", path=hapt_subset["zip"], activities="all", sensors="acc")
    assert len(rec.classes) == 12 and not rec.has_gyro
    same = load_dataset("hapt", path=hapt_subset["folder"])
    assert same.has_gyro and same.sessions == ["exp01", "exp02"]


def test_yaml_and_parquet_paths(tmp_path):
    (tmp_path / "a.csv").write_text("x,y,z,act\n0,0,1,walk\n0,0,1,walk\n")
    (tmp_path / "def.yaml").write_text(
        "files: a.csv\nsampling_rate_hz: 10\n"
        "columns: {acc_x: x, acc_y: y, acc_z: z, label: act}\nconstants: {subject: s}\n"
    )
    rec = load_dataset(str(tmp_path / "def.yaml"))
    assert rec.n_samples == 2 and rec.classes == ["walk"]
    parquet = rec.to_parquet(tmp_path / "rec.parquet")
    back = load_dataset(parquet)
    pd.testing.assert_frame_equal(back.frame, rec.frame)
    with pytest.raises(ConfigError, match="not accepted"):
        load_dataset(parquet, sensors="acc")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "foreign.parquet")
    with pytest.raises(DataFormatError, match="YAML dataset definition"):
        load_dataset(tmp_path / "foreign.parquet")


def test_bundled_file_via_parquet_path():
    from tinyhar.datasets.bundled import bundled_hapt_path

    rec = load_dataset(bundled_hapt_path())
    assert isinstance(rec, RecordingSet) and rec.n_samples == 1_122_772

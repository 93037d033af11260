"""Sessions read in batches of rows (`SessionSource.iter_batches`): the batches joined are the
session read whole, restarts included, and small files are read whole (CSV, NPY and several files
per session: test_sessions_files.py; sessions from a column: test_sessions_columns.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.helpers import joined_batches
from tinyhar.datasets.sessions import session_sources
from tinyhar.datasets.synthetic import synthesize


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "data"
    synthesize(out, 1, 0.05, session_hours=0.05, seed=5)  # one file of 9,000 rows
    file = next((out / "recordings").glob("*.parquet"))
    pq.write_table(pq.read_table(file), file, row_group_size=1000)
    return out


def _variant(folder, tmp_path, edit_spec=None, edit_frame=None, suffix=".parquet"):
    spec = yaml.safe_load((folder / "data.yaml").read_text(encoding="utf-8"))
    frame = pd.read_parquet(next((folder / "recordings").glob("*.parquet")))
    (tmp_path / "recordings").mkdir(parents=True)
    if edit_spec:
        edit_spec(spec)
    if edit_frame:
        frame = edit_frame(frame)
    name = tmp_path / "recordings" / f"s001_0000{suffix}"
    if suffix == ".csv":
        frame.to_csv(name, index=False)
        spec["files"] = "recordings/*.csv"
        spec["file_pattern"] = spec["file_pattern"].replace("parquet", "csv")
    else:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), name,
                       row_group_size=1000)
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(spec))
    return session_sources(tmp_path / "data.yaml")[0]


def test_batches_of_a_parquet_session_are_the_session(folder):
    source = session_sources(folder / "data.yaml")[0]
    batches = joined_batches(source, 2500)
    assert [len(b.frame) for b in batches] == [2500, 2500, 2500, 1500]
    assert batches[2].frame["time"].iloc[0] == pytest.approx(5000 / 50)
    prefixed = next(source.iter_batches(session_prefix=True, batch_rows=2500))
    assert prefixed.frame["session"].iloc[0] == "s001-recordings/s001_0000"


def test_without_a_time_column_time_counts_on_across_batches(folder, tmp_path):
    source = _variant(folder, tmp_path, edit_spec=lambda s: s["columns"].pop("time"))
    batches = joined_batches(source, 4000)
    assert len(batches) == 3
    np.testing.assert_array_equal(batches[1].frame["time"].to_numpy(),
                                  np.arange(4000, 8000) / 50.0)


def test_restarts_are_read_in_batches_and_small_files_whole(folder, tmp_path):
    def restart(frame):
        frame.loc[6000:, "time"] -= frame["time"].iloc[6000]  # time goes back: a new session
        return frame

    source = _variant(folder, tmp_path / "a", edit_frame=restart)
    batches = joined_batches(source, 2500, own_categories=True)
    assert [b.frame["session"].unique().tolist() for b in batches] == [
        ["recordings/s001_0000"], ["recordings/s001_0000"],
        ["recordings/s001_0000", "recordings/s001_0000~2"], ["recordings/s001_0000~2"]]
    assert batches[2].frame["time"].iloc[1000] == 0.0  # the restart: time from its start
    csv = _variant(folder, tmp_path / "b", suffix=".csv")
    assert len(joined_batches(csv, 2500)) == 4  # CSV too
    assert len(joined_batches(session_sources(folder / "data.yaml")[0], 9000)) == 1


def test_a_bad_value_in_a_later_batch_names_its_row(folder, tmp_path):
    from tinyhar.errors import DataFormatError

    def bad(frame):
        frame.loc[7000, "acc_x"] = np.nan
        return frame

    source = _variant(folder, tmp_path, edit_frame=bad)
    with pytest.raises(DataFormatError, match="row 7001"):
        list(source.iter_batches(batch_rows=2500))


def test_the_same_file_in_two_folders_is_two_fingerprints(folder, tmp_path):
    """A session's name comes from its file's path under the definition's folder, so its
    fingerprint (the feature cache's key) does too: a copy in another folder is another
    session, never given the first one's cached rows (with the first one's session name)."""
    import shutil

    shutil.copy(folder / "data.yaml", tmp_path / "data.yaml")
    for day in ("mon", "tue"):
        shutil.copytree(folder / "recordings", tmp_path / day / "recordings")
    spec = yaml.safe_load((tmp_path / "data.yaml").read_text(encoding="utf-8"))
    spec["files"] = "*/recordings/*.parquet"
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(spec))
    sources = session_sources(tmp_path / "data.yaml")
    assert [s.session for s in sources] == ["mon/recordings/s001_0000",
                                            "tue/recordings/s001_0000"]
    assert sources[0].fingerprint() != sources[1].fingerprint()
    moved = tmp_path / "moved"  # the whole folder moved: the same fingerprints (cache kept)
    shutil.copytree(tmp_path, moved, ignore=shutil.ignore_patterns("moved"))
    assert [s.fingerprint() for s in session_sources(moved / "data.yaml")] == [
        s.fingerprint() for s in sources]

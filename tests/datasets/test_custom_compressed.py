"""Compressed CSV files (``.csv.gz``, ``.bz2``, ``.xz``, ``.zip``, as CAPTURE-24 ships its
recordings): read as they are, the same recordings as the plain files, estimated sizes,
clear errors for broken ones, and definitions guessed from a folder of them."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile

import numpy as np
import pandas as pd
import pytest

from tinyhar.datasets.custom import (
    CSV_SAMPLE_BYTES,
    _estimated_csv_rows,
    estimated_samples,
    load_custom,
)
from tinyhar.datasets.definition import data_suffix, full_suffix, stem
from tinyhar.datasets.sessions import session_sources
from tinyhar.errors import DataFormatError

DEFINITION = r"""name: packed
files: "rec/*.csv{ext}"
sampling_rate_hz: 50
columns: {{time: t, acc_x: ax, acc_y: ay, acc_z: az, label: activity}}
units: {{time: s, acc: g}}
file_pattern: '(?P<subject>[^_]+)_(?P<session>[^.]+)\.csv{pattern}'
"""

WRITERS = {
    "": lambda path, text: path.write_text(text),
    ".gz": lambda path, text: path.write_bytes(gzip.compress(text.encode())),
    ".bz2": lambda path, text: path.write_bytes(bz2.compress(text.encode())),
    ".xz": lambda path, text: path.write_bytes(lzma.compress(text.encode())),
    ".zip": lambda path, text: _zip(path, text),
}


def _zip(path, text):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(path.name[: -len(".zip")], text)


def _text(n: int, seed: int) -> str:
    """``n`` rows of 50 Hz samples near 1 g, two activities."""
    rng = np.random.default_rng(seed)
    acc = rng.normal(0, 0.05, size=(n, 3)) + [0.0, 0.0, 1.0]
    label = np.where(np.arange(n) < n // 2, "walk", "sit")
    rows = "".join(f"{k / 50:.2f},{a:.4f},{b:.4f},{c:.4f},{lab}\n"
                   for k, ((a, b, c), lab) in enumerate(zip(acc, label, strict=True)))
    return "t,ax,ay,az,activity\n" + rows


def _definition(folder, ext: str, files: dict[str, str]):
    (folder / "rec").mkdir(parents=True)
    for name, text in files.items():
        WRITERS[ext](folder / "rec" / f"{name}.csv{ext}", text)
    path = folder / "data.yaml"
    path.write_text(DEFINITION.format(ext=ext, pattern=ext.replace(".", r"\.")))
    return path


def test_names_of_compressed_files():
    assert data_suffix("P001.csv.gz") == ".csv" and data_suffix("a.b.CSV") == ".csv"
    assert full_suffix("P001.CSV.GZ") == ".CSV.GZ" and full_suffix("x.parquet") == ".parquet"
    assert stem("rec/P001.csv.gz") == "P001" and stem("a.b.csv") == "a.b" and stem("x") == "x"
    assert data_suffix("notes.gz") == ".gz"  # no format before it: the definition's format


@pytest.mark.parametrize("ext", [".gz", ".bz2", ".xz", ".zip"])
def test_compressed_csv_files_give_the_recordings_of_the_plain_files(tmp_path, ext):
    files = {"s1_a": _text(700, 1), "s2_b": _text(500, 2)}
    plain = load_custom(_definition(tmp_path / "plain", "", files))
    packed = load_custom(_definition(tmp_path / "packed", ext, files))
    pd.testing.assert_frame_equal(packed.frame, plain.frame)
    assert sorted(packed.frame["session"].unique()) == ["a", "b"]
    # read session by session, in batches smaller than a file: the same rows
    sources = session_sources(tmp_path / "packed" / "data.yaml")
    batches = [b.frame for s in sources for b in s.iter_batches(batch_rows=128)]
    joined = pd.concat(batches, ignore_index=True)
    np.testing.assert_array_equal(joined[["acc_x", "acc_y", "acc_z"]].to_numpy(),
                                  plain.frame[["acc_x", "acc_y", "acc_z"]].to_numpy())


@pytest.mark.parametrize("ext", [".gz", ".bz2", ".xz", ".zip"])
def test_rows_of_a_compressed_file_read_to_its_end_are_counted_exactly(tmp_path, ext):
    path = tmp_path / f"s1_a.csv{ext}"
    WRITERS[ext](path, _text(3000, 3))
    assert _estimated_csv_rows(path) == 3001  # the header is a line too


def test_a_large_compressed_file_is_estimated_from_its_start(tmp_path):
    """Beyond CSV_SAMPLE_BYTES of gzip the rows are estimated from the ratio of text to
    compressed bytes there (before, the compressed bytes' newlines were counted: a few
    per cent of the rows)."""
    n = 120_000
    definition = _definition(tmp_path, ".gz", {"s1_a": _text(n, 4)})
    assert (tmp_path / "rec" / "s1_a.csv.gz").stat().st_size > CSV_SAMPLE_BYTES
    samples, channels = estimated_samples(definition)
    assert channels == 3
    assert abs(samples - n) < 0.2 * n  # how well the start compresses is not the whole's


@pytest.mark.parametrize("cut", ["truncated", "corrupt"])
def test_a_broken_compressed_file_is_an_error_naming_it(tmp_path, cut):
    definition = _definition(tmp_path, ".gz", {"s1_a": _text(2000, 5)})
    path = tmp_path / "rec" / "s1_a.csv.gz"
    data = path.read_bytes()
    path.write_bytes(data[:400] if cut == "truncated" else data[:200] + bytes(100) + data[300:])
    with pytest.raises(DataFormatError, match=r"s1_a\.csv\.gz.*cannot read as CSV"):
        load_custom(definition)
    assert estimated_samples(definition)[0] >= 0  # estimating never fails on it


def test_compressed_parquet_or_npy_says_to_decompress(tmp_path):
    (tmp_path / "rec").mkdir()
    np.save(tmp_path / "rec" / "s1_a.npy", np.zeros((10, 4)))
    (tmp_path / "rec" / "s1_a.npy.gz").write_bytes(
        gzip.compress((tmp_path / "rec" / "s1_a.npy").read_bytes()))
    (tmp_path / "rec" / "s1_a.npy").unlink()
    (tmp_path / "data.yaml").write_text(
        "name: x\nfiles: 'rec/*.npy.gz'\nsampling_rate_hz: 50\n"
        "columns: {time: 0, acc_x: 1, acc_y: 2, acc_z: 3}\nunits: {time: s, acc: g}\n"
        "file_pattern: '(?P<subject>[^_]+)_(?P<session>[^.]+)\\.npy\\.gz'\n"
        "constants: {label: walk}\n")
    with pytest.raises(DataFormatError, match=r"compressed NPY file .*decompress it"):
        load_custom(tmp_path / "data.yaml")


def test_init_guesses_a_definition_from_compressed_files(tmp_path):
    from tinyhar.datasets.scaffold import scaffold_definition

    folder = tmp_path / "mine"
    folder.mkdir()
    for k, label in enumerate(["walking", "sitting", "walking", "sitting"]):
        text = _text(600, 10 + k).replace(",walk\n", "\n").replace(",sit\n", "\n")
        text = text.replace(",activity\n", "\n", 1)
        WRITERS[".gz"](folder / f"S{k // 2 + 1}_{label}_{k % 2 + 1}.csv.gz", text)
    draft = scaffold_definition(folder, tmp_path / "data.yaml")
    guessed = {g.key: g.value for g in draft.guesses}
    assert guessed["files"].endswith("*.csv.gz")
    assert guessed["file_pattern"].endswith(r"\.csv\.gz")

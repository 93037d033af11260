"""What an export reads and where it writes (tinyhar.export.source): the output folder.

An export into a folder that cannot be written (a file in its place or on its
path, a read-only folder) is a user mistake: one message naming the folder and
what to do, exit status 2 on the command line, and no traceback.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.helpers import tiny_run
from tinyhar.cli import app
from tinyhar.errors import TinyharError
from tinyhar.export.source import export_folder

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run folder with a tiny tree pipeline (minimal features, 3 trees) on HAPT subject 1."""
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(load_bundled_hapt().select(subjects=["1"]), window=128, hop=64,
                              unit="samples")
    return tiny_run(tmp_path_factory.mktemp("run") / "run", windows, 64)


def test_export_folder_is_created_and_checked(tmp_path):
    out = export_folder(tmp_path / "a b" / "c")
    assert out.is_dir() and list(out.iterdir()) == []  # the write test leaves nothing
    (tmp_path / "file").write_text("x")
    with pytest.raises(TinyharError, match="is a file, not a folder: choose another folder"):
        export_folder(tmp_path / "file")
    with pytest.raises(TinyharError, match=r"file/sub: cannot write the export there \("):
        export_folder(tmp_path / "file" / "sub")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(TinyharError, match="cannot write the export there"):
            export_folder(folder)
    finally:
        folder.chmod(0o755)


@pytest.mark.parametrize("target", ["c", "micropython"])
def test_export_into_an_unwritable_folder_is_a_clear_error(run_dir, tmp_path, target):
    from tinyhar.export.c import export_c
    from tinyhar.export.micropython import export_micropython

    (tmp_path / "file").write_text("x")
    export = export_c if target == "c" else export_micropython
    with pytest.raises(TinyharError, match="cannot write the export there"):
        export(run_dir, tmp_path / "file" / "out")
    result = runner.invoke(app, ["export", str(run_dir), "--target", target, "--out",
                                 str(tmp_path / "file" / "out"), "--no-check", "--no-profile"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "cannot write the export there" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_export_into_a_folder_with_spaces_twice(run_dir, tmp_path):
    """A folder name with spaces works, and exporting again into it replaces the files."""
    from tinyhar.export.c import export_c

    out = tmp_path / "my exports" / "c model"
    first = export_c(run_dir, out)
    text = (out / "tinyhar_model.c").read_text()
    second = export_c(run_dir, out)
    assert (out / "tinyhar_model.c").read_text() == text
    assert first["files"] == second["files"]
    assert np.all([os.path.isfile(p) for p in second["files"].values()])


def test_the_build_hint_quotes_a_folder_with_spaces(run_dir, tmp_path):
    """`tinyhar export` prints a `make -C` line that works when pasted into a shell."""
    import shlex

    out = tmp_path / "my exports" / "c model"
    result = runner.invoke(app, ["export", str(run_dir), "--target", "c", "--out", str(out),
                                 "--no-check", "--no-profile"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"build the example with `make -C {shlex.quote(str(out))}`" in text

"""Command-line interface: ``tinyhar train | evaluate | datasets | features | export | ...``.

A thin layer over :mod:`tinyhar.training`, :mod:`tinyhar.datasets`, :mod:`tinyhar.features`,
:mod:`tinyhar.export` and :mod:`tinyhar.device`. User mistakes
(:class:`tinyhar.errors.TinyharError`) are printed as one clear message and exit with status 2,
without traceback.

This package holds the shared parts (``app``, ``console``, ``err_console``, the ``_friendly``
error wrapper, ``PRESET_NAMES``) and registers the commands, in the order ``tinyhar --help``
lists them; the commands live by theme in :mod:`tinyhar.cli.run_commands` (train, evaluate,
predict, robustness, learning-curve, embed, explore), :mod:`tinyhar.cli.data_commands`
(datasets, inspect, features, recordings, label) and :mod:`tinyhar.cli.device_commands`
(export, simulate, deploy, live, device).
"""

from __future__ import annotations

import functools
import warnings

import typer
from rich.console import Console
from rich.markup import escape

from tinyhar.errors import TinyharError

# The CLI imports only typer, rich and tinyhar's import-free modules (errors, model kinds) at
# module level, so that ``tinyhar --help`` starts fast (benchmarks/startup.py); each command
# imports what it needs. tests/test_cli.py keeps this
# list equal to tinyhar.models.nn.presets.PRESETS, which imports pydantic and the config.
PRESET_NAMES = ("wisdm-bilstm", "ucihar-lstm", "small-cnn", "ucihar-cnn", "tiny-cnn")
"""Names of the network presets, shown in ``tinyhar train --help``."""

app = typer.Typer(
    help="tinyhar: human activity recognition from motion sensors, down to microcontrollers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _friendly(func):
    """Turn TinyharError into a one-line message and exit code 2; show warnings plainly."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        def show(message, category, filename, lineno, file=None, line=None):
            err_console.print(f"[yellow]warning:[/] {escape(str(message))}")

        from tinyhar import interrupts

        interrupts.install()
        _print_any_text()  # also when app() is called without main()
        old = warnings.showwarning
        warnings.showwarning = show
        try:
            return func(*args, **kwargs)
        except TinyharError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        finally:
            warnings.showwarning = old

    return wrapper


# The commands, by theme in the submodules (imported here, after the shared parts above that
# they use), registered in the order ``tinyhar --help`` lists them.
from tinyhar.cli import data_commands, device_commands, run_commands  # noqa: E402
from tinyhar.cli.run_commands import _print_metrics  # noqa: E402, F401 (tests call it)

app.command()(run_commands.train)
app.command()(run_commands.evaluate)
app.command()(run_commands.predict)
app.add_typer(data_commands.datasets_app, name="datasets")
app.command()(data_commands.inspect)
app.command()(run_commands.robustness)
app.command("learning-curve")(run_commands.learning_curve_cmd)
app.command()(data_commands.features)
app.command("export")(device_commands.export_cmd)
app.command()(run_commands.embed)
app.command()(run_commands.explore)
app.command()(device_commands.simulate)
app.command()(device_commands.deploy)
app.command()(device_commands.live)
app.add_typer(data_commands.recordings_app, name="recordings")
app.add_typer(device_commands.device_app, name="device")
app.add_typer(data_commands.label_app, name="label")


def _unencodable(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a file name's undecodable bytes back as they were
    (``surrogateescape``), any other character the stream cannot encode as ``\\xb1`` or
    ``\\u8d70`` (``backslashreplace``, what Python does on stderr)."""
    import codecs

    try:
        return codecs.lookup_error("surrogateescape")(exc)
    except UnicodeError:
        return codecs.backslashreplace_errors(exc)


def _print_any_text() -> None:
    """Let stdout and stderr print every character tinyhar writes.

    A stream whose encoding lacks one (``±`` of the metrics, ``à`` in a citation, a class
    label in another script) ended the command with a UnicodeEncodeError traceback: a
    non-UTF-8 locale (``LANG=en_US.ISO-8859-1``, or ``LC_ALL=C`` with ``PYTHONUTF8=0``:
    ASCII), or a Windows code page when the output goes to a file or pipe. Such
    characters are written escaped instead (:func:`_unencodable`); a stream that can
    encode everything prints as before.
    """
    import codecs
    import sys

    try:
        codecs.lookup_error("tinyhar.unencodable")
    except LookupError:
        codecs.register_error("tinyhar.unencodable", _unencodable)
    for stream in (sys.stdout, sys.stderr):
        if callable(getattr(stream, "reconfigure", None)):
            stream.reconfigure(errors="tinyhar.unencodable")


def main() -> None:  # pragma: no cover
    """Entry point of the ``tinyhar`` command and ``python -m tinyhar``.

    Runs the command, then freezes the garbage collector
    (:func:`gc.freeze`) so that the interpreter's exit does not walk the
    million or so objects of NumPy, pandas, scikit-learn and SciPy in its
    final collections: exit takes about 0.04 s instead of 0.3 to 0.5 s.
    Nothing is lost: every file tinyhar writes is closed (and renamed into
    place) before the command returns, and exit handlers still run.
    """
    import gc

    _print_any_text()
    try:
        app()
    finally:
        gc.freeze()

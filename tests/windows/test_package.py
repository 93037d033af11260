"""Public types import from their subpackage."""

from __future__ import annotations


def test_windowset_and_make_windows_import_from_tinyhar_windows() -> None:
    from tinyhar.core.windowset import WindowSet as windowset
    from tinyhar.windows import WindowingReport, WindowSet, make_windows
    from tinyhar.windows.windowing import WindowingReport as report
    from tinyhar.windows.windowing import make_windows as cut

    assert (WindowSet, make_windows, WindowingReport) == (windowset, cut, report)


def test_every_name_in_all_imports():
    import tinyhar.windows as package
    from tinyhar.windows.windowing import contiguous_segments, majority_labels

    assert all(hasattr(package, name) for name in package.__all__)
    assert (package.contiguous_segments, package.majority_labels) == (
        contiguous_segments, majority_labels)

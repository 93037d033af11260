"""Wording (plurals, compact subject lists) and the figures of a run folder."""

from __future__ import annotations

import pytest

from tinyhar.reporting import plots
from tinyhar.reporting.text import absent_classes_message, axis_label, name_subjects, plural


def test_plural():
    assert plural(1, "subject") == "1 subject"
    assert plural(0, "subject") == "0 subjects"
    assert plural(2, "subject") == "2 subjects"
    assert plural(2, "class") == "2 classes"
    assert plural(1, "class") == "1 class"
    assert plural(10666, "window") == "10,666 windows"
    assert plural(3, "distinct leaf", "distinct leaves") == "3 distinct leaves"


def test_name_subjects_compact():
    assert name_subjects(["10", "2", "3", "4", "7"]) == "2-4, 7, 10"
    assert name_subjects([str(s) for s in range(1, 31)]) == "1-30"
    assert name_subjects(["1", "2"]) == "1, 2"  # two ids are not a range
    assert name_subjects([]) == "none"
    long = name_subjects([f"person-{i:03d}" for i in range(40)], max_chars=40)
    assert long.endswith("... (40 subjects)") and len(long) <= 40
    assert long.startswith("person-000, ")


def test_absent_classes_message():
    assert absent_classes_message({"absent_classes": []}) is None
    text = absent_classes_message(
        {"absent_classes": ["LAYING"], "scored_classes": ["SITTING", "WALKING"]}
    )
    assert text.startswith("1 class of the model (LAYING) has no test window")
    assert "2 classes present in the test labels or predicted" in text


@pytest.fixture(scope="module")
def hapt_windows():
    from tinyhar.datasets.bundled import load_bundled_hapt
    from tinyhar.windows.windowing import make_windows

    windows, _ = make_windows(load_bundled_hapt(), window=2.56, hop=1.28, unit="s", purity=0.8)
    return windows


def test_class_overview_is_small_and_its_legend_is_clear(hapt_windows, tmp_path, monkeypatch):
    path = plots.plot_class_overview(hapt_windows, tmp_path / "c.png", title="hapt: title")
    assert path.stat().st_size < 200_000  # measured ~110 kB for 6 classes x 3 examples
    captured = {}
    real_save = plots._save

    def keep(fig, p, dpi, colors=None):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        captured["legend"] = fig.legends[0].get_window_extent(renderer)
        captured["axes"] = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.axison]
        return real_save(fig, p, dpi, colors)

    monkeypatch.setattr(plots, "_save", keep)
    plots.plot_class_overview(hapt_windows, tmp_path / "d.png")
    legend = captured["legend"]
    # the legend sits below every panel (tick labels and x labels included): no overlap
    assert all(legend.y1 <= box.y0 + 1e-6 for box in captured["axes"])


def test_training_curves_mark_the_kept_epoch(tmp_path, monkeypatch):
    history = [
        {"epoch": e, "train_loss": 1 / e, "train_accuracy": e / 5, "val_loss": abs(e - 3) + 0.5,
         "val_accuracy": 0.5}
        for e in range(1, 6)
    ]
    captured = {}
    real_save = plots._save

    def keep(fig, p, dpi, colors=None):
        captured["fig"] = fig
        captured["labels"] = [t.get_text() for ax in fig.axes for t in ax.get_legend().texts]
        captured["lines"] = [
            line.get_xdata() for ax in fig.axes for line in ax.get_lines()
            if line.get_linestyle() == ":"
        ]
        return real_save(fig, p, dpi, colors)

    monkeypatch.setattr(plots, "_save", keep)
    plots.plot_training_curves(history, tmp_path / "t.png", best_epoch=3, title="net: subjects 1")
    assert captured["labels"].count("kept: epoch 3") == 2
    assert all(list(x) == [3, 3] for x in captured["lines"]) and len(captured["lines"]) == 2
    assert (tmp_path / "t.png").stat().st_size > 5000


def test_per_subject_plot_and_titles(tmp_path):
    per_subject = {
        s: {"accuracy": a, "macro_f1": f, "n_windows": n}
        for s, a, f, n in (("2", 0.9, 0.88, 300), ("4", 0.8, 0.79, 310), ("9", 1.0, 1.0, 5))
    }
    title = plots.figure_title("scores per subject", "hapt", list(per_subject))
    assert title == "hapt, scores per subject: test subjects 2, 4, 9"
    assert plots.figure_title("confusion matrix", "hapt", ["4"]) == (
        "hapt, confusion matrix: test subject 4"
    )
    many = plots.figure_title("confusion matrix", "hapt", [str(s) for s in range(1, 31)])
    assert many == "hapt, confusion matrix: test subjects 1-30 (30 subjects)"
    path = plots.plot_per_subject(per_subject, tmp_path / "p.png", title)
    assert path.stat().st_size > 5000
    with pytest.raises(ValueError, match="empty"):
        plots.plot_per_subject({}, tmp_path / "e.png")


def test_axis_label_wraps_long_class_names():
    assert axis_label("WALKING_DOWNSTAIRS") == "WALKING_DOWNSTAIRS"  # fits: unchanged
    # CAPTURE-24-style annotations: broken after a space or ";", cut with "..."
    assert axis_label("9060 sitting;reading;MET 1.3") == "9060 sitting;\nreading;MET 1.3"
    assert axis_label("17150 walking household without observable loads;MET 2.0") == (
        "17150 walking\nhousehold without...")
    assert axis_label("a" * 50) == "a" * 20 + "\n" + "a" * 17 + "..."
    for name in ("x" * 21, "ab " * 10, "7030 sleeping;MET 0.95", "y" * 200):
        lines = axis_label(name, width=12, lines=3).split("\n")
        assert len(lines) <= 3 and all(len(line) <= 12 for line in lines)

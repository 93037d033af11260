"""A small trained run with given post-processing options, for the run-folder tests."""

from __future__ import annotations

from tests.helpers import bundled_hapt_parquet

TRAIN_SUBJECTS = ["1", "3", "5", "6", "8", "11"]
TEST_SUBJECT = "7"


def bundled_run(tmp_path_factory, name: str, postprocess: dict, cv_folds: int = 3,
                **extra: dict):
    """Train 5 trees (depth 8, minimal features, accelerometer) on bundled HAPT subjects
    1, 3, 5, 6, 8 and 11 with test subject 7 and these ``postprocess:`` options
    (``extra``: more configuration sections).

    Returns
    -------
    tuple
        ``(run folder, metrics, path of subject 7's Parquet file)``.
    """
    from tinyhar.config import make_config
    from tinyhar.training import train

    folder = tmp_path_factory.mktemp("data")
    data = bundled_hapt_parquet(folder, [*TRAIN_SUBJECTS, TEST_SUBJECT])
    held_out = bundled_hapt_parquet(folder, [TEST_SUBJECT], name="subject7.parquet")
    cfg = make_config({
        "dataset": {"name": str(data), "sensors": "acc"},
        "evaluation": {"test_subjects": [TEST_SUBJECT], "cv_folds": cv_folds},
        "model": {"n_estimators": 5, "max_depth": 8},
        "features": {"set": "minimal"},
        "postprocess": postprocess,
        **extra,
    })
    out = tmp_path_factory.mktemp("runs") / name
    return out, train(cfg, out), held_out

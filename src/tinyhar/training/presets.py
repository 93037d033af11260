"""Neural-network presets: the data and evaluation each one was made for.

:func:`apply_preset` fills a configuration mapping from a preset
(:data:`PRESET_DATA`, :func:`preset_test_subjects`).
"""

from __future__ import annotations

from tinyhar.datasets.info import DATASETS
from tinyhar.models.nn.presets import PRESETS

PRESET_DATA = {
    name: {
        "dataset": {"name": p.dataset_name, "sensors": p.sensors},
        "test_subjects": p.test_subjects,
    }
    for name, p in PRESETS.items()
}
"""Data and evaluation each network preset was made for, as configuration
sections (read from the presets' ``dataset_name``, ``sensors`` and
``test_subjects``: :class:`~tinyhar.models.nn.presets.Preset`).

``dataset``: the data set (used unless the user names another one);
``test_subjects``: ``"tutorial"`` to hold out the data set's
:attr:`~tinyhar.datasets.info.DatasetInfo.tutorial_test_subjects` (used unless
the user sets ``evaluation.test_subjects``, and only when the data set in use has
such subjects). The UCI HAR presets keep the data set's official subject split;
the WISDM presets hold out the tutorial's users 31-36 (the derived WISDM windows
carry no per-subject split of their own). ``tiny-cnn`` uses the same split as
``wisdm-bilstm`` so that the two compare directly.
"""


def preset_test_subjects(preset: str, dataset: object) -> list[str]:
    """The hold-out test subjects a network preset's protocol uses on a data set.

    Parameters
    ----------
    preset : str
        A key of :data:`PRESET_DATA`.
    dataset : str
        The data set in use (``dataset.name``).

    Returns
    -------
    list of str
        The data set's tutorial test subjects when the preset follows the
        tutorial split (:data:`PRESET_DATA`) and the data set has one; else
        empty (the data set's official or automatic split applies).
    """
    if PRESET_DATA.get(preset, {}).get("test_subjects") != "tutorial":
        return []
    info = DATASETS.get(dataset) if isinstance(dataset, str) else None
    return list(info.tutorial_test_subjects) if info is not None else []


def apply_preset(data: dict, name: str) -> dict:
    """Fill a configuration mapping from a neural-network preset.

    Sets ``model.kind``/``model.preset``, the preset's data set (when the
    mapping still has the default one), the preset's test subjects for that
    data set (when ``evaluation.test_subjects`` is still the default) and,
    for recordings, its window length and hop in samples. Keys the preset
    does not define are left alone.

    Parameters
    ----------
    data : dict
        Configuration mapping (sections may be missing); not modified.
    name : str
        A key of :data:`tinyhar.models.nn.presets.PRESETS`.

    Returns
    -------
    dict
        The updated copy.

    Raises
    ------
    ConfigError
        Unknown preset name (the message lists the presets).
    """
    from tinyhar.models.nn.presets import get_preset

    preset = get_preset(name)
    data = dict(data)
    for section in ("dataset", "windows", "model", "evaluation"):
        value = data.get(section)
        data[section] = dict(value) if isinstance(value, dict) else ({} if value is None else value)
    if not all(isinstance(data[s], dict) for s in ("dataset", "windows", "model", "evaluation")):
        return data  # a section that is not a mapping: make_config reports it
    data["model"]["kind"] = preset.estimator_params["architecture"]
    data["model"]["preset"] = name
    recipe = PRESET_DATA.get(name, {})
    if data["dataset"].get("name", "hapt") == "hapt" and "dataset" in recipe:
        data["dataset"].update(recipe["dataset"])
    split = preset_test_subjects(name, data["dataset"].get("name"))
    if split and data["evaluation"].get("test_subjects", "official") == "official":
        data["evaluation"]["test_subjects"] = list(split)
    window = preset.window
    if window.get("n_samples") and window.get("hop"):
        data["windows"].update(
            {"window": window["n_samples"], "hop": window["hop"], "unit": "samples"}
        )
    return data

"""Training configuration: one YAML file, validated with pydantic.

Every run folder contains the fully resolved ``config.yaml`` (seed included),
so ``tinyhar train --config RUN/config.yaml --out NEW`` reproduces a run, from
any working directory.
Example (all keys optional; these are the defaults)::

    seed: 0                 # 0 .. 2**32 - 1
    dataset:
      name: hapt            # registered name (`tinyhar datasets`) or a .yaml/.parquet path
      path: null            # file or folder for datasets that are not bundled
      sensors: auto         # acc+gyro when the data have a gyroscope, else acc | acc |
                            #   acc+gyro | all
      activities: basic     # hapt-raw: basic (6) or all (12 with transitions)
      checks:               # plausibility checks when loading (turn one off only if the
        sampling_rate: true #   data really are so): time column vs declared rate (2 %)
        time_order: true    # time going back starts a new session (warning)
        units: true         # acc near 1 g at rest; gyro rad/s, not deg/s
        clipping: true      # warn when a channel sits at its full-scale value
    windows:
      window: 2.56          # window length (unit below)
      hop: 1.28             # hop between window starts (longer than window: warns)
      unit: s               # s | samples
      purity: 0.8           # minimum fraction of samples with the majority label
      target_rate_hz: null  # resample before windowing
    features:
      set: default          # default | light | minimal | full | invariant
      stack_previous: false # append previous window's features and deltas
      gravity_cutoff_hz: 0.3  # below the Nyquist frequency (sampling rate / 2)
    model:
      kind: random_forest   # random_forest | extra_trees | cnn1d | lstm | bilstm | gru | tcn
      preset: null          # networks: see `tinyhar train --help` (e.g. ucihar-cnn)
      params: {}            # networks: NeuralNetClassifier parameters (epochs, lr, ...)
      n_estimators: 10      # trees only, as are the four keys below
      max_depth: 10
      min_samples_leaf: 1
      max_features: sqrt    # sqrt | log2 | null | a number of features >= 1 | a fraction in (0, 1]
      class_weight: null    # null | balanced | balanced_subsample
    evaluation:
      protocol: holdout     # holdout | loso (CV by subject over all subjects) | random (leaks)
      test_subjects: official  # official | auto | [list of subject ids]
      cv_folds: 5           # holdout: CV folds on the training subjects (0 = off);
                            # loso: folds over all subjects (0 = one subject per fold)
      test_fraction: 0.3    # share of subjects (auto) or windows (random) for testing
    postprocess:            # smoothing of the per-window predictions of whole recordings
      smoothing: auto       # auto (chosen by leave-subjects-out CV on the training
                            #   subjects) | none | mode | ema | hmm
      streamable_only: false  # auto: only options that run online (no Viterbi, no merge)
      mode_k: 5             # mode: majority over k windows
      ema_alpha: 0.3        # ema: weight of the newest window's probabilities
      hmm_decoder: fixed_lag  # hmm: fixed_lag (online) | viterbi (offline)
      hmm_lag: 5            # hmm fixed_lag: decision delay in windows
      hmm_smoothing: 1.0    # hmm: additive count for transitions and emissions
      min_duration: 1       # shortest segment in windows (1 = off)
      min_duration_rule: causal  # causal (online) | merge (offline)
      hysteresis_margin: 0.0     # switch class only when ahead by this probability margin
      hysteresis_windows: 1      # ... for this many windows in a row
      reject: none          # unknown activity: none | probability (top probability too low)
                            #   | ood (features far from every class) | both
      false_rejection: 0.05 # share of known-activity windows rejected (calibrated by
                            #   cross-validation on the training subjects)
      ood_var_floor: 0.1    # OOD score: class variances floored at this share of the overall
      reject_posture: false # also reject sitting/standing windows whose tilt to the session's
                            #   walking and postures is far from their class's (unseen
                            #   postures); offline, host only
      reject_posture_share: 0.125  # share of the per-test rejection rate of that test
      posture: none         # none | walking_reference (re-decide sitting vs standing from the
                            #   tilt to the session's walking gravity) | walking_reference_all
                            #   (recalibrate every class with it) | walking_reference_grouped
                            #   (within static and within walking classes, with the tilt
                            #   relative to the session's postures)
                            #   | walking_reference_grouped_context (the same on probabilities
                            #   averaged over posture_context windows, with a log-odds x tilt
                            #   term) | auto (CV chooses among these, none included); offline,
                            #   host only
      posture_min_walking: 5  # walking windows a session needs for its reference
      posture_context: 9    # odd: windows averaged by walking_reference_grouped_context
    augment:                # training-data augmentation (tree models)
      rotation: none        # none | random: extra copies of the training windows, each turned
                            #   by a seeded random 3-D rotation of up to max_deg degrees
      max_deg: 45.0         # 0 < max_deg <= 180 (180: uniformly random orientations)
      copies: 2             # rotated copies per training window (the originals are kept)
    compute:                # data larger than memory (trees), parallel folds (any model)
      out_of_core: auto     # auto | true | false: read, window and featurise session by
                            #   session (auto: for dataset definitions when a scheduler,
                            #   a cache, more than 2 GB of data files, or samples that
                            #   would take over half the memory available)
      scheduler: serial     # serial | threads | processes | tcp://host:8786 (Dask cluster)
      workers: 2            # threads/processes: local workers
      no_workers_timeout_s: 20.0  # Dask cluster: s it may have no worker while tasks wait
                            #   before the run stops (an adaptive cluster: time to start one)
      cache: null           # folder for per-session feature rows (reused while unchanged)
      strict: false         # stop at the first session that fails (default: skip, list it)

Options that do not apply to the model kind are an error: ``preset`` and
``params`` for tree models, a non-default ``n_estimators``, ``max_depth``,
``min_samples_leaf``, ``max_features`` or ``class_weight`` for networks.

Paths
-----
One rule for every path in a configuration (``dataset.name`` when it names a
``.yaml``/``.yml``/``.parquet`` file, and ``dataset.path``): a relative path
in a configuration *file* is relative to the folder of that file (like the
``files:`` of a dataset definition); a relative path given on the command line
(``--dataset``, ``--path``, ``--set``) or in a mapping passed to
:func:`make_config` is relative to the current working directory. The
resolved configuration holds absolute paths, so the ``config.yaml`` a run
folder stores means the same from any working directory.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from tinyhar.compute import NO_WORKERS_TIMEOUT_S
from tinyhar.core.channels import MAX_SAMPLING_RATE_HZ
from tinyhar.core.featuresets import FEATURE_SETS
from tinyhar.datasets.checks import DataChecks
from tinyhar.errors import ConfigError
from tinyhar.models.kinds import KINDS, NETWORK_KINDS, TREE_KINDS
from tinyhar.validation import Float, Int, format_validation_error

MAX_SEED = 2**32 - 1
"""Largest seed numpy's legacy and default generators accept (seeds are 0 .. 2**32 - 1)."""

PATH_SUFFIXES = (".yaml", ".yml", ".parquet")
"""Suffixes that make ``dataset.name`` a file path rather than a registered name."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class DatasetConfig(_Section):
    """Which data to train on.

    ``name`` is a registered data set (``tinyhar datasets``) or the path of a
    YAML dataset definition or tinyhar Parquet file; ``path`` the file or
    folder of a data set that is not bundled. Relative paths follow the rule
    in the module docstring.
    """

    name: str = "hapt"
    path: str | None = None
    sensors: Literal["auto", "acc", "acc+gyro", "all"] = "auto"
    activities: Literal["basic", "all"] = "basic"
    checks: DataChecks = Field(default_factory=DataChecks)


MAX_WINDOW_LENGTH = 1e6
"""Largest ``windows.window``/``windows.hop`` accepted, in their unit (1e6 s is 11.6
days, 1e6 samples 5.6 hours at 50 Hz): beyond any recording, and a guard against
typos such as 1e300 that no computer could cut."""


class WindowConfig(_Section):
    """How to cut windows (ignored for data sets that come pre-windowed).

    ``window`` and ``hop`` are in seconds (``unit: s``) or samples
    (``unit: samples``, whole numbers); ``target_rate_hz`` in Hz.
    """

    window: Float = Field(2.56, gt=0, le=MAX_WINDOW_LENGTH)
    hop: Float = Field(1.28, gt=0, le=MAX_WINDOW_LENGTH)
    unit: Literal["s", "samples"] = "s"
    purity: Float = Field(0.8, gt=0, le=1)
    target_rate_hz: Float | None = Field(None, gt=0, le=MAX_SAMPLING_RATE_HZ)


FeatureSetName = Literal[FEATURE_SETS]  # type: ignore[valid-type]
"""``features.set``: one of :data:`tinyhar.core.featuresets.FEATURE_SETS`."""


class FeatureConfig(_Section):
    """Which hand-crafted features to compute.

    ``set``: one of :data:`tinyhar.core.featuresets.FEATURE_SETS`
    (``minimal``, ``light``, ``default``, ``full``, and ``invariant``:
    rotation-invariant features only; each is described at
    :data:`tinyhar.features.plan.FEATURE_SETS`). ``gravity_cutoff_hz`` (Hz)
    and ``gravity_order`` set the Butterworth low-pass that separates gravity
    from body acceleration; ``bands_hz`` the spectral bands
    ``[[lo, hi], ...]`` in Hz (``(lo, hi]``, ``hi`` at most half the sampling
    rate; default
    :data:`tinyhar.features.catalog.DEFAULT_BANDS_HZ`), checked against the
    data's rate when training starts.
    """

    set: FeatureSetName = "default"
    stack_previous: bool = False
    gravity_cutoff_hz: Float = Field(0.3, gt=0)
    gravity_order: Int = Field(3, ge=1, le=8)
    bands_hz: list[tuple[Float, Float]] | None = Field(None, min_length=1)


TREE_ONLY_KEYS = ("n_estimators", "max_depth", "min_samples_leaf", "max_features", "class_weight")
"""``model`` keys that only tree ensembles use."""
NETWORK_ONLY_KEYS = ("preset", "params")
"""``model`` keys that only networks use."""


class ModelConfig(_Section):
    """The classifier and its size budget.

    Tree ensembles (:data:`~tinyhar.models.kinds.TREE_KINDS`) use the budget keys
    (:data:`TREE_ONLY_KEYS`); neural networks
    (:data:`~tinyhar.models.kinds.NETWORK_KINDS`; need ``pip install 'tinyhar[deep]'``) take
    their settings from ``preset`` and ``params`` (keyword arguments of
    :class:`tinyhar.models.nn.NeuralNetClassifier`). ``max_features`` follows
    scikit-learn: ``"sqrt"``, ``"log2"``, None (all features), a number of
    features >= 1, or a fraction in (0, 1].
    """

    kind: Literal[KINDS] = "random_forest"
    preset: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    n_estimators: Int = Field(10, ge=1, le=1000)
    max_depth: Int | None = Field(10, ge=1, le=30)
    min_samples_leaf: Int = Field(1, ge=1)
    max_features: str | int | float | None = "sqrt"
    class_weight: Literal["balanced", "balanced_subsample"] | None = None

    @field_validator("max_features", mode="before")
    @classmethod
    def _check_max_features(cls, value: Any) -> Any:
        ok = (
            value is None
            or value in ("sqrt", "log2")
            or (isinstance(value, int) and not isinstance(value, bool) and value >= 1)
            or (isinstance(value, float) and math.isfinite(value) and 0 < value <= 1)
        )
        if not ok:
            raise ValueError(
                "must be sqrt, log2, null (all features), a whole number of features >= 1 "
                "or a fraction in (0, 1]"
            )
        return value

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None) -> str | None:
        from tinyhar.models.nn.presets import PRESETS  # does not import torch

        if value is not None and value not in PRESETS:
            raise ValueError(f"unknown network preset; choose one of {', '.join(PRESETS)}")
        return value


def _subject_ids(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("the list of test subjects is empty; name at least one subject")
        bad = [v for v in value if isinstance(v, bool) or not isinstance(v, (str, int))]
        if bad:
            raise ValueError(f"subject ids are numbers or strings, got {bad[0]!r}")
        return [str(v) for v in value]
    return value


class EvaluationConfig(_Section):
    """How to score the model, subject-independently unless told otherwise.

    ``protocol``:

    * ``holdout`` (default): hold-out test subjects (``test_subjects``) plus
      leave-subjects-out cross-validation on the training subjects with
      ``cv_folds`` folds (0 = off), for trees and networks alike.
    * ``loso``: for small data sets, no hold-out part: cross-validation by
      subject over all subjects. ``cv_folds`` 0, or at least the number of
      subjects, gives one subject per fold (leave-one-subject-out); otherwise
      that many folds of whole subjects. Reported: pooled metrics (all
      folds' predictions concatenated) and mean ± sd over folds. The saved
      model is then fitted on all subjects; its expected score is the
      cross-validation score.
    * ``random``: a random window split; leaks subjects, warns.
    """

    protocol: Literal["holdout", "loso", "random"] = "holdout"
    test_subjects: Annotated[
        Literal["official", "auto"] | list[str], BeforeValidator(_subject_ids)
    ] = "official"
    cv_folds: Int = Field(5, ge=0, le=50)
    test_fraction: Float = Field(0.3, gt=0, lt=1)

    @field_validator("cv_folds")
    @classmethod
    def _not_one_fold(cls, value: int) -> int:
        if value == 1:
            raise ValueError(
                "cross-validation needs at least 2 folds; use 0 (holdout: no cross-validation; "
                "loso: one subject per fold)"
            )
        return value


class PostprocessConfig(_Section):
    """Post-processing of the per-window predictions of whole recordings.

    Options of :class:`tinyhar.postprocess.PostProcessor` (see there for
    each algorithm and its source). ``smoothing: auto`` chooses among
    :func:`tinyhar.postprocess.default_candidates` by leave-subjects-out
    cross-validation on the training subjects (never on test subjects); the
    other keys then apply only to a fixed choice. The window-level scores of
    a run are always the raw per-window ones; post-processed scores are
    reported in addition (``metrics.json`` ``postprocess``).
    ``posture: walking_reference`` (sitting vs standing),
    ``walking_reference_all`` (every class), ``walking_reference_grouped``
    (within the static and within the walking classes, with the tilt also
    relative to the session's postures) or ``walking_reference_grouped_context``
    (the grouped one on probabilities averaged over ``posture_context``
    windows, odd, with a sitting/standing log-odds x tilt term) adds the
    offline correction of
    :class:`tinyhar.postprocess.posture.PostureCorrection` (tilt to the
    session's walking gravity direction; fitted on the training subjects'
    cross-validated streams; not streamable, so host only); ``posture:
    auto`` lets the same cross-validation choose among them and none.
    ``reject_posture: true`` adds the posture test of
    :class:`tinyhar.postprocess.Rejection` (tilt of sitting/standing windows
    referenced to the session's walking and postures; offline, host only).
    """

    smoothing: Literal["auto", "none", "mode", "ema", "hmm"] = "auto"
    streamable_only: bool = False
    mode_k: int = Field(5, ge=1, le=1000)
    ema_alpha: float = Field(0.3, gt=0, le=1)
    hmm_decoder: Literal["fixed_lag", "viterbi"] = "fixed_lag"
    hmm_lag: int = Field(5, ge=0, le=1000)
    hmm_smoothing: float = Field(1.0, ge=0, le=1e6)
    min_duration: int = Field(1, ge=1, le=1000)
    min_duration_rule: Literal["causal", "merge"] = "causal"
    hysteresis_margin: float = Field(0.0, ge=0, le=1)
    hysteresis_windows: int = Field(1, ge=1, le=1000)
    reject: Literal["none", "probability", "ood", "both"] = "none"
    false_rejection: Float = Field(0.05, gt=0, le=0.5)
    ood_var_floor: Float = Field(0.1, ge=0, le=1e6)
    reject_posture: bool = False
    reject_posture_share: Float = Field(0.125, gt=0, le=1)
    posture: Literal["none", "walking_reference", "walking_reference_all",
                     "walking_reference_grouped", "walking_reference_grouped_context",
                     "auto"] = "none"
    posture_min_walking: Int = Field(5, ge=1, le=100000)
    posture_context: Int = Field(9, ge=1, le=1001)

    @field_validator("posture_context")
    @classmethod
    def _odd_context(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("must be odd (windows centred on each window), e.g. 5")
        return value


class AugmentConfig(_Section):
    """Augmentation of the raw training windows (tree models).

    ``rotation: random`` adds ``copies`` rotated copies of every training
    window (the originals are kept), each turned by its own seeded random
    3-D rotation: a uniformly distributed axis and an angle uniform in
    ``[-max_deg, max_deg]`` degrees (``max_deg: 180`` gives uniformly
    distributed orientations); see :func:`tinyhar.augment.rotation_copies`.
    The model's size budget (``model:``) is unchanged. Test windows are never
    augmented.
    """

    rotation: Literal["none", "random"] = "none"
    max_deg: Float = Field(45.0, gt=0, le=180)
    copies: Int = Field(2, ge=1, le=20)


class ComputeConfig(_Section):
    """How the data are read (tree models) and where the parallel parts run (any model).

    ``out_of_core`` reads a dataset definition session by session and keeps
    only feature rows (:mod:`tinyhar.features.table`), for data sets larger
    than memory; ``scheduler`` and ``workers`` say where the per-session work
    and the cross-validation folds with the final fit (trees and networks)
    run (:mod:`tinyhar.compute`); ``no_workers_timeout_s`` is how long a Dask
    cluster may have no worker while tasks wait before the run stops with
    :class:`~tinyhar.compute.ComputeError` (an adaptive cluster that starts its
    workers on demand needs longer than the default); ``cache`` is a folder of per-session
    feature rows keyed by the source files' hash and the settings; ``strict``
    stops at the first session that fails instead of skipping it (skipped
    sessions are listed in ``metrics.json``).
    """

    out_of_core: Literal["auto"] | bool = "auto"
    scheduler: str = "serial"
    workers: Int = Field(2, ge=1, le=1024)
    no_workers_timeout_s: Float = Field(NO_WORKERS_TIMEOUT_S, gt=0, le=86400)
    cache: str | None = None
    strict: bool = False

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, value: str) -> str:
        from tinyhar.compute import SCHEDULER_HELP, is_scheduler

        if is_scheduler(value):
            return value
        raise ValueError(f"must be {SCHEDULER_HELP}")


class TrainConfig(_Section):
    """A complete, reproducible training run.

    Raises
    ------
    ConfigError
        (from :func:`load_config` / :func:`make_config`) naming each wrong key
        and what is allowed.
    """

    seed: Int = Field(0, ge=0, le=MAX_SEED)
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    windows: WindowConfig = Field(default_factory=WindowConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    postprocess: PostprocessConfig = Field(default_factory=PostprocessConfig)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    compute: ComputeConfig = Field(default_factory=ComputeConfig)

    def to_yaml(self, path: str | Path) -> Path:
        """Write the resolved configuration (every key, defaults included)."""
        path = Path(path)
        path.write_text(yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False),
                        encoding="utf-8")
        return path


def _absolute(value: str, base: Path) -> str:
    path = Path(value).expanduser()
    return os.path.normpath(path if path.is_absolute() else base / path)


def resolve_paths(data: Any, base_dir: str | Path | None = None) -> Any:
    """Make the relative paths of a configuration mapping absolute.

    Parameters
    ----------
    data : dict
        A configuration mapping (as read from YAML); other values are
        returned unchanged, for validation to report.
    base_dir : str or Path, optional
        Folder relative paths are relative to (default: the current working
        directory).

    Returns
    -------
    dict
        A copy with ``dataset.name`` (when it ends in ``.yaml``, ``.yml`` or
        ``.parquet``), ``dataset.path`` and ``compute.cache`` made absolute
        (``~`` expanded).
    """
    if not isinstance(data, dict):
        return data
    base = Path(base_dir if base_dir is not None else os.getcwd()).expanduser().absolute()
    compute = data.get("compute")
    if isinstance(compute, dict) and isinstance(compute.get("cache"), str) and \
            compute["cache"].strip():
        data = {**data, "compute": {**compute, "cache": _absolute(compute["cache"], base)}}
    if not isinstance(data.get("dataset"), dict):
        return data
    ds = dict(data["dataset"])
    name, path = ds.get("name"), ds.get("path")
    if isinstance(name, str) and name.strip() and Path(name).suffix.lower() in PATH_SUFFIXES:
        ds["name"] = _absolute(name, base)
    if isinstance(path, str) and path.strip():
        ds["path"] = _absolute(path, base)
    return {**data, "dataset": ds}


def _cross_checks(cfg: TrainConfig, source: str) -> list[str]:
    """Problems that involve several keys; warns about doubtful but valid settings."""
    problems = []
    m, w = cfg.model, cfg.windows
    defaults = ModelConfig()
    if m.kind in TREE_KINDS:
        for key in NETWORK_ONLY_KEYS:
            if getattr(m, key):
                problems.append(
                    f"model.{key}: applies to networks only ({', '.join(NETWORK_KINDS)}), "
                    f"but model.kind is {m.kind!r}; remove model.{key} or choose a network kind"
                )
    else:
        from tinyhar.models.nn.presets import check_network_params  # does not import torch

        try:
            check_network_params(m.params)
        except ConfigError as exc:
            problems += str(exc).splitlines()
        if "architecture" in m.params:
            problems.append("model.params.architecture: set model.kind instead")
        for key in TREE_ONLY_KEYS:
            if getattr(m, key) != getattr(defaults, key):
                problems.append(
                    f"model.{key}: applies to tree models only ({', '.join(TREE_KINDS)}), "
                    f"but model.kind is {m.kind!r}; remove model.{key} (a network's size is "
                    "set by model.preset and model.params)"
                )
    if m.kind not in TREE_KINDS and cfg.augment.rotation != "none":
        problems.append(
            f"augment.rotation: augments the training windows of tree models "
            f"({', '.join(TREE_KINDS)}), but model.kind is {m.kind!r}; use augment.rotation: none"
        )
    if w.unit == "samples":
        for key in ("window", "hop"):
            value = getattr(w, key)
            if value != int(value):
                problems.append(
                    f"windows.{key}: {value:g} samples is not a whole number; use a whole "
                    "number of samples or unit: s"
                )
    rate = w.target_rate_hz
    if rate is not None and cfg.features.gravity_cutoff_hz >= rate / 2:
        problems.append(
            f"features.gravity_cutoff_hz: {cfg.features.gravity_cutoff_hz:g} Hz is not below "
            f"the Nyquist frequency ({rate / 2:g} Hz) of windows.target_rate_hz "
            f"{rate:g} Hz; use a lower cut-off (default 0.3 Hz)"
        )
    if w.hop > w.window:
        warnings.warn(
            f"{source}: windows.hop ({w.hop:g} {w.unit}) is longer than windows.window "
            f"({w.window:g} {w.unit}): the samples between windows are never used",
            UserWarning,
            stacklevel=3,
        )
    return [f"{source}: {p}" for p in problems]


def make_config(
    data: dict | None = None, source: str = "config", base_dir: str | Path | None = None
) -> TrainConfig:
    """Validate a configuration mapping.

    Parameters
    ----------
    data : dict, optional
        Sections and keys as in the module docstring; missing keys take their
        defaults.
    source : str
        Where the mapping comes from, named in error messages.
    base_dir : str or Path, optional
        Folder relative paths are relative to (default: the current working
        directory); see :func:`resolve_paths`.

    Returns
    -------
    TrainConfig
        With absolute paths.

    Raises
    ------
    ConfigError
        Naming each wrong key (e.g. ``model.max_depth``) and what is allowed;
        also options that do not apply to the model kind.

    Warns
    -----
    UserWarning
        ``windows.hop`` longer than ``windows.window``.
    """
    try:
        cfg = TrainConfig.model_validate(resolve_paths(data or {}, base_dir))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source, TrainConfig)) from None
    problems = _cross_checks(cfg, source)
    if problems:
        raise ConfigError("\n".join(problems))
    return cfg


def read_config_file(path: str | Path) -> dict:
    """Read a YAML configuration file into a mapping, its relative paths made absolute.

    Relative paths are resolved against the file's folder (see
    :func:`resolve_paths`); nothing is validated beyond the YAML itself.

    Raises
    ------
    ConfigError
        The file is missing or unreadable, not UTF-8 text (with line number),
        not valid YAML (with line number), or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}); save the file as UTF-8"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply to read") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of sections (seed, dataset, windows, features, model, "
            f"evaluation), got a YAML {type(data).__name__}"
        )
    return resolve_paths(data, path.parent)


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a YAML training configuration.

    Relative paths in it are relative to the file's folder (module docstring).

    Raises
    ------
    ConfigError
        The file is missing, is not UTF-8 or not valid YAML (with line
        number), or has a wrong key or value.
    """
    return make_config(read_config_file(path), str(path), base_dir=Path(path).parent)


def _check_key_path(key: str, parts: list[str]) -> None:
    """Raise ConfigError unless ``parts`` names a key (not a section) of :class:`TrainConfig`."""
    section: type[BaseModel] | None = TrainConfig
    for i, part in enumerate(parts):
        if section is None:
            raise ConfigError(f"--set {key}: {'.'.join(parts[:i])} is a value, not a section")
        if part not in section.model_fields:
            where = ".".join(parts[:i]) or "the top level"
            raise ConfigError(
                f"--set {key}: unknown key {'.'.join(parts[: i + 1])!r}; {where} has: "
                f"{', '.join(section.model_fields)}"
            )
        if section is ModelConfig and part == "params":
            if len(parts) > i + 2:
                raise ConfigError(
                    f"--set {key}: name one network parameter, e.g. model.params.epochs=3"
                )
            return
        annotation = section.model_fields[part].annotation
        is_section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        section = annotation if is_section else None
    if section is not None:
        raise ConfigError(
            f"--set {key}: {key} is a section; set one of its keys: "
            f"{', '.join(section.model_fields)}"
        )


def apply_override(data: dict, assignment: str) -> dict:
    """Apply one command-line ``KEY.PATH=VALUE`` override to a configuration mapping.

    The value is parsed as YAML (``3`` is a number, ``[1, 2]`` a list, ``null``
    None, ``acc`` a string). ``model.params.NAME`` sets one network parameter.

    Parameters
    ----------
    data : dict
        Configuration mapping; not modified.
    assignment : str
        For example ``windows.hop=1.0`` or ``model.params.epochs=3``.

    Returns
    -------
    dict
        A copy with the value set.

    Raises
    ------
    ConfigError
        No ``=``, an unknown key path (named, with the keys allowed there),
        or a value that is not valid YAML.
    """
    key, sep, text = assignment.partition("=")
    key = key.strip()
    parts = key.split(".")
    if not sep or not all(parts):
        raise ConfigError(
            f"--set {assignment!r}: expected KEY.PATH=VALUE, e.g. --set windows.hop=1.0"
        )
    _check_key_path(key, parts)
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: value {text!r} is not valid YAML: {exc}") from None
    return set_key(data, key, value)


def set_key(data: dict, key: str, value: Any) -> dict:
    """Copy of a configuration mapping with a dotted key path set, sections created as needed.

    Parameters
    ----------
    data : dict
        Configuration mapping; not modified.
    key : str
        Dotted key path, e.g. ``"model.params.epochs"``; not checked (see
        :func:`apply_override` for the checked form).
    value : Any
        The value to set.

    Returns
    -------
    dict
    """
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    node = out
    *parents, last = key.split(".")
    for part in parents:
        child = node.get(part)
        node[part] = child = dict(child) if isinstance(child, dict) else {}
        node = child
    node[last] = value
    return out

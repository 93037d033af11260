"""Training configuration: one YAML file, validated with pydantic.

Every run folder contains the fully resolved ``config.yaml`` (seed included),
so ``tinyhar train --config RUN/config.yaml --out NEW`` reproduces a run.
Example (all keys optional; these are the defaults)::

    seed: 0
    dataset:
      name: hapt            # registered name (`tinyhar datasets`) or a .yaml/.parquet path
      path: null            # file or folder for datasets that are not bundled
      sensors: acc+gyro     # acc | acc+gyro | all
      activities: basic     # hapt-raw: basic (6) or all (12 with transitions)
      checks:               # plausibility checks when loading (turn one off only if the
        sampling_rate: true #   data really are so): time column vs declared rate (2 %)
        time_order: true    # time going back starts a new session (warning)
        units: true         # acc near 1 g at rest; gyro rad/s, not deg/s
        clipping: true      # warn when a channel sits at its full-scale value
    windows:
      window: 2.56          # window length (unit below)
      hop: 1.28             # hop between window starts
      unit: s               # s | samples
      purity: 0.8           # minimum fraction of samples with the majority label
      target_rate_hz: null  # resample before windowing
    features:
      set: default          # default | light | minimal | full
      stack_previous: false # append previous window's features and deltas
      gravity_cutoff_hz: 0.3
    model:
      kind: random_forest   # random_forest | extra_trees | cnn1d | lstm | bilstm | gru | tcn
      preset: null          # networks: see `tinyhar train --help` (e.g. ucihar-cnn)
      params: {}            # networks: NeuralNetClassifier parameters (epochs, lr, ...)
      n_estimators: 10
      max_depth: 10
      min_samples_leaf: 1
      max_features: sqrt
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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tinyhar.datasets.checks import DataChecks
from tinyhar.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetConfig(_Section):
    """Which data to train on."""

    name: str = "hapt"
    path: str | None = None
    sensors: Literal["acc", "acc+gyro", "all"] = "acc+gyro"
    activities: Literal["basic", "all"] = "basic"
    checks: DataChecks = Field(default_factory=DataChecks)


class WindowConfig(_Section):
    """How to cut windows (ignored for data sets that come pre-windowed)."""

    window: float = Field(2.56, gt=0)
    hop: float = Field(1.28, gt=0)
    unit: Literal["s", "samples"] = "s"
    purity: float = Field(0.8, gt=0, le=1)
    target_rate_hz: float | None = Field(None, gt=0)


class FeatureConfig(_Section):
    """Which hand-crafted features to compute."""

    set: Literal["default", "light", "minimal", "full"] = "default"
    stack_previous: bool = False
    gravity_cutoff_hz: float = Field(0.3, gt=0)


TREE_KINDS = ("random_forest", "extra_trees")
NETWORK_KINDS = ("cnn1d", "lstm", "bilstm", "gru", "tcn")


class ModelConfig(_Section):
    """The classifier and its size budget.

    Tree ensembles (``random_forest``, ``extra_trees``) use the budget keys;
    neural networks (``cnn1d``, ``lstm``, ``bilstm``, ``gru``, ``tcn``; needs
    ``pip install 'tinyhar[deep]'``) take their settings from ``preset`` and
    ``params`` (keyword arguments of
    :class:`tinyhar.models.nn.NeuralNetClassifier`).
    """

    kind: Literal["random_forest", "extra_trees", "cnn1d", "lstm", "bilstm", "gru", "tcn"] = (
        "random_forest"
    )
    preset: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    n_estimators: int = Field(10, ge=1, le=1000)
    max_depth: int | None = Field(10, ge=1, le=30)
    min_samples_leaf: int = Field(1, ge=1)
    max_features: str | int | float | None = "sqrt"
    class_weight: Literal["balanced", "balanced_subsample"] | None = None


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
    test_subjects: Literal["official", "auto"] | list[str] = "official"
    cv_folds: int = Field(5, ge=0, le=50)
    test_fraction: float = Field(0.3, gt=0, lt=1)

    @field_validator("test_subjects", mode="before")
    @classmethod
    def _subjects_as_str(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
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


class TrainConfig(_Section):
    """A complete, reproducible training run.

    Raises
    ------
    ConfigError
        (from :func:`load_config`) naming each wrong key and what is allowed.
    """

    seed: int = 0
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    windows: WindowConfig = Field(default_factory=WindowConfig)
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    postprocess: PostprocessConfig = Field(default_factory=PostprocessConfig)

    def to_yaml(self, path: str | Path) -> Path:
        """Write the resolved configuration (every key, defaults included)."""
        path = Path(path)
        path.write_text(yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False))
        return path


def format_validation_error(exc: ValidationError, source: str) -> str:
    """Turn a pydantic error into lines ``source: key.path: problem (input: ...)``."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key; check its spelling against the documented keys"
        lines.append(f"{source}: {key}: {msg} (got {err.get('input')!r})")
    return "\n".join(lines)


def make_config(data: dict | None = None, source: str = "config") -> TrainConfig:
    """Validate a configuration mapping.

    Raises
    ------
    ConfigError
        Naming each wrong key (e.g. ``model.max_depth``) and what is allowed.
    """
    try:
        return TrainConfig.model_validate(data or {})
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, source)) from None


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a YAML training configuration.

    Raises
    ------
    ConfigError
        The file is missing, is not valid YAML (with line number), or has a
        wrong key or value.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {exc}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (seed, dataset, ...)")
    return make_config(data, str(path))

"""A scikit-learn classifier around the small PyTorch networks.

:class:`NeuralNetClassifier` trains one of the networks of
:mod:`tinyhar.models.nn.architectures` on raw windows of shape
``(n_windows, n_samples, n_channels)`` with Adam and cross-entropy, early
stopping on a validation part made of whole *training subjects*, and fixed
seeds, and exposes ``predict``/``predict_proba``/``embed``. It is saved
without pickle (:meth:`NeuralNetClassifier.to_state`: its configuration as
JSON plus the network's state dict as numpy arrays, rebuilt by
:meth:`NeuralNetClassifier.from_state`); in memory it still pickles the same
way, for copies and worker processes.

PyTorch is imported only when a network is built, trained or loaded, so the
class can be created (and its presets listed) without the ``deep`` extra
(:mod:`tinyhar.models.nn.support`); training-time augmentation is in
:mod:`tinyhar.models.nn.augment`.
"""

from __future__ import annotations

import copy
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit

from tinyhar.core.labels import check_labels
from tinyhar.errors import TinyharError
from tinyhar.modelfile import StateReader
from tinyhar.models.nn.augment import augment_windows
from tinyhar.models.nn.support import (
    DEEP_INSTALL_HINT,
    InputShapeError,
    NoGroupsWarning,
    RandomStream,
    _architectures,
    _recompute_batchnorm,
    _torch,
    check_windows,
    robust_statistics,
    torch_settings,
)

__all__ = [
    "DEEP_INSTALL_HINT",
    "InputShapeError",
    "NeuralNetClassifier",
    "NoGroupsWarning",
    "augment_windows",
    "check_windows",
    "robust_statistics",
    "torch_settings",
]


class NeuralNetClassifier(ClassifierMixin, BaseEstimator):
    """Small neural network on raw windows, with a scikit-learn API.

    Parameters
    ----------
    architecture : {"cnn1d", "lstm", "bilstm", "gru", "tcn"}
        Network body, see :mod:`tinyhar.models.nn.architectures`.
    hidden_units : int or tuple of int
        Filters per convolution layer (``cnn1d``, ``tcn``; a tuple gives one
        width per layer) or units per recurrent layer and direction.
    n_layers : int
        Convolution blocks, recurrent layers or TCN residual blocks.
    kernel_size : int
        Convolution kernel length in samples (``cnn1d``, ``tcn``).
    dropout : float
        Dropout probability.
    dense_units : int
        Units of the dense ReLU layer before the head (0 = none); its output
        is the embedding.
    input_dense_units : int
        Recurrent networks only: units of a dense ReLU layer applied to each
        sample before the recurrent layers (0 = none).
    input_stats : bool
        Concatenate per-channel mean, standard deviation, minimum and maximum
        of the scaled window to the body's features before the dense layer
        (Ignatov 2018); they carry the posture (gravity direction).
    epochs : int
        Maximum passes over the training data.
    batch_size : int
        Windows per optimiser step.
    lr : float
        Adam learning rate.
    lr_schedule : {"constant", "cosine"}
        ``cosine`` anneals the learning rate from ``lr`` towards 0 over
        ``epochs`` (Loshchilov & Hutter 2017, SGDR, without restarts).
    weight_decay : float
        L2 penalty: Adam's coupled weight decay, i.e. ``weight_decay * w`` is
        added to each gradient, the same as adding
        ``weight_decay / 2 * sum(w**2)`` to the loss (TensorFlow's ``l2_loss``
        times ``weight_decay``).
    label_smoothing : float
        Cross-entropy label smoothing (Szegedy et al. 2016): the target puts
        ``1 - label_smoothing`` on the true class plus ``label_smoothing``
        spread evenly over all classes. 0 (default) = plain cross-entropy.
    augment_groups : tuple of (int, int, int), "xyz" or None
        Channel indices of the x, y, z axes of each 3-axis sensor in the
        windows, e.g. ``((0, 1, 2), (3, 4, 5), (6, 7, 8))``, or ``"xyz"``
        for consecutive triplets (tinyhar's channel order: ``acc_x acc_y
        acc_z gyro_x gyro_y gyro_z``, UCI HAR's 9 inertial signals), so that
        one setting fits 3-, 6- and 9-channel data; used by
        ``augment_rotation`` (required there) and ``augment_scale``. None
        (default): no groups.
    augment_rotation : float
        Training windows are rotated by a random 3-D rotation of at most this
        many degrees, the same for every group of a window; 0 (default) = off.
        See :func:`augment_windows`, which applies all ``augment_*`` options to
        each training batch (validation windows are never augmented).
    augment_scale : float
        Standard deviation of a random gain ``N(1, augment_scale)`` per window
        and group (per channel without groups); 0 (default) = off.
    augment_jitter : float
        Standard deviation of Gaussian noise added to each sample, in units of
        the channel's interquartile range ``scale_``; 0 (default) = off.
    augment_shift : int
        Maximum circular time shift of a training window, in samples; 0
        (default) = off.
    weight_averaging : float
        Stochastic weight averaging (Izmailov et al. 2018, "Averaging weights
        leads to wider optima and better generalization"), through
        :mod:`torch.optim.swa_utils`: the kept weights are the mean
        (``AveragedModel``) of the weights at the end of each of the last
        ``ceil(weight_averaging * epochs)`` epochs (at least one), with the
        learning-rate schedule unchanged; the running mean and variance of the
        batch-normalisation layers are then recomputed (``update_bn``) with one
        pass over the unaugmented training windows (cumulative average over
        batches of ``batch_size``, dropout off), since the averaged weights'
        activations differ from those of any trained epoch. 0 (default) = off:
        the last (or, with early stopping, the best) epoch's weights are kept.
        Used only without early stopping (``patience`` None or no validation
        part).
    patience : int or None
        Stop after this many epochs without a lower validation loss and restore
        the best weights; None trains all ``epochs`` and keeps the last weights.
    validation_fraction : float
        Fraction of training *subjects* held out for validation (0 = none:
        no early stopping).
    seed : int
        Seed of weight initialisation, dropout, shuffling and the validation split.
    max_steps : int or None
        Stop after this many optimiser steps in total (for quick tests).
    n_threads : int or None
        Torch CPU threads during fit/predict (restored afterwards); None keeps
        torch's setting. The default 1 is the fastest for these small networks
        on shared cores and makes results independent of the machine's core
        count.
    verbose : int
        1 prints one line per epoch to stderr.

    Attributes
    ----------
    classes_ : numpy.ndarray of str, shape (n_classes,)
        Sorted class labels.
    center_, scale_ : numpy.ndarray of float32, shape (n_channels,)
        Per-channel median and IQR of the training windows (validation part
        excluded), used to scale inputs inside the network.
    n_samples_in_, n_channels_in_ : int
        Window shape seen in ``fit``; ``predict`` requires the same.
    history_ : list of dict
        Per epoch: ``epoch``, ``train_loss``, ``train_accuracy``, ``val_loss``,
        ``val_accuracy`` (None without validation), ``steps``.
    best_epoch_ : int
        Epoch whose weights were kept (1-based); with ``weight_averaging``
        the last epoch of the average.
    averaged_epochs_ : list of int
        Epochs (1-based) whose weights were averaged by ``weight_averaging``;
        empty without it.
    train_groups_, validation_groups_ : list of str
        Subjects used for training and for validation.
    n_params_ : int
        Trainable parameters.
    macs_per_window_ : int
        Multiply-accumulates per window, counted analytically per layer (see
        :func:`tinyhar.models.nn.architectures.count_macs`).
    embedding_dim_ : int
        Length of the vectors returned by :meth:`embed`.
    module_ : torch.nn.Module
        The trained :class:`~tinyhar.models.nn.architectures.HarNet`.
    module_config_ : dict
        Plain configuration from which ``module_`` is rebuilt on loading.

    Raises
    ------
    TinyharError
        From ``fit``/``predict`` when PyTorch is missing (with the install
        command), for an unknown architecture, or for windows of the wrong
        shape (:class:`InputShapeError`).

    Notes
    -----
    Two fits with the same seed, data and thread count give identical
    predictions on CPU (``torch.manual_seed``, a seeded numpy generator for
    shuffling and ``torch.use_deterministic_algorithms``), also when several
    fits run at once in threads of one process: each draws its weight
    initialisation and dropout from its own stream of torch's generator
    (:class:`~tinyhar.models.nn.support.RandomStream`) and the thread settings
    are shared safely (:func:`torch_settings`).
    """

    def __init__(
        self,
        architecture: str = "cnn1d",
        hidden_units: int | tuple[int, ...] = 32,
        n_layers: int = 3,
        kernel_size: int = 5,
        dropout: float = 0.1,
        dense_units: int = 0,
        input_dense_units: int = 0,
        input_stats: bool = False,
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 1e-3,
        lr_schedule: str = "constant",
        weight_decay: float = 0.0,
        label_smoothing: float = 0.0,
        augment_groups: tuple[tuple[int, int, int], ...] | str | None = None,
        augment_rotation: float = 0.0,
        augment_scale: float = 0.0,
        augment_jitter: float = 0.0,
        augment_shift: int = 0,
        weight_averaging: float = 0.0,
        patience: int | None = 5,
        validation_fraction: float = 0.15,
        seed: int = 0,
        max_steps: int | None = None,
        n_threads: int | None = 1,
        verbose: int = 0,
    ) -> None:
        self.architecture = architecture
        self.hidden_units = hidden_units
        self.n_layers = n_layers
        self.kernel_size = kernel_size
        self.dropout = dropout
        self.dense_units = dense_units
        self.input_dense_units = input_dense_units
        self.input_stats = input_stats
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.label_smoothing = label_smoothing
        self.augment_groups = augment_groups
        self.augment_rotation = augment_rotation
        self.augment_scale = augment_scale
        self.augment_jitter = augment_jitter
        self.augment_shift = augment_shift
        self.weight_averaging = weight_averaging
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.max_steps = max_steps
        self.n_threads = n_threads
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _validation_split(
        self, n: int, y_idx: np.ndarray, groups: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the training and validation parts of the training windows."""
        idx = np.arange(n)
        frac = float(self.validation_fraction or 0.0)
        if frac <= 0 or n < 4:
            return idx, idx[:0]
        if not 0 < frac < 1:
            raise TinyharError(f"validation_fraction must be in [0, 1), got {frac}")
        if groups is not None and len(set(groups.tolist())) >= 2:
            splitter = GroupShuffleSplit(n_splits=1, test_size=frac, random_state=self.seed)
            train, val = next(splitter.split(idx, y_idx, groups=groups))
        else:
            why = (
                "no subjects (groups) were given"
                if groups is None
                else "the training data has a single subject"
            )
            warnings.warn(
                f"{why}: the validation split for early stopping is random, so the same "
                "subjects are in training and validation windows and early stopping is "
                "optimistic; pass groups=subjects to fit",
                NoGroupsWarning,
                stacklevel=3,
            )
            splitter = ShuffleSplit(n_splits=1, test_size=frac, random_state=self.seed)
            train, val = next(splitter.split(idx))
        return np.sort(train), np.sort(val)

    def fit(self, X: Any, y: Any, groups: Any = None) -> NeuralNetClassifier:
        """Train the network.

        Parameters
        ----------
        X : numpy.ndarray of float, shape (n_windows, n_samples, n_channels)
            Raw training windows (or a WindowSet, whose ``X`` is used).
        y : array-like of str, shape (n_windows,)
            Labels.
        groups : array-like, shape (n_windows,), optional
            Subject of each window. The validation part for early stopping is
            made of whole subjects drawn from these (``GroupShuffleSplit``);
            without groups a random window split is used, with a
            :class:`NoGroupsWarning`. Pass only training subjects: never
            include test windows in ``X``.

        Returns
        -------
        self

        Raises
        ------
        TinyharError
            PyTorch missing, bad shapes, fewer than 2 classes, unknown
            architecture.
        """
        arch = _architectures()  # imports torch, or says how to install it
        X = check_windows(X, "training windows")
        y = np.asarray(y, dtype=object)
        if y.shape != (X.shape[0],):
            raise InputShapeError(f"{len(y)} labels for {X.shape[0]} windows")
        if groups is not None:
            groups = np.asarray([str(g) for g in groups], dtype=object)
            if groups.shape != (X.shape[0],):
                raise InputShapeError(f"{len(groups)} groups for {X.shape[0]} windows")
        if self.lr_schedule not in ("constant", "cosine"):
            raise TinyharError(
                f"unknown lr_schedule {self.lr_schedule!r}: choose 'constant' or 'cosine'"
            )
        if not 0.0 <= float(self.weight_averaging) <= 1.0:
            raise TinyharError(
                f"weight_averaging must be in [0, 1], got {self.weight_averaging}"
            )
        if self.architecture not in arch.ARCHITECTURES:
            raise TinyharError(
                f"unknown architecture {self.architecture!r}: choose one of "
                f"{', '.join(arch.ARCHITECTURES)}"
            )
        y_str = np.asarray([str(v) for v in y], dtype=object)
        self.classes_ = np.asarray(sorted(set(y_str.tolist())), dtype=object)
        check_labels(y_str, list(self.classes_), "training data")
        y_idx = np.searchsorted(self.classes_, y_str).astype(np.int64)

        tr, va = self._validation_split(len(X), y_idx, groups)
        if groups is not None:
            self.train_groups_ = sorted(set(groups[tr].tolist()))
            self.validation_groups_ = sorted(set(groups[va].tolist()))
        else:
            self.train_groups_, self.validation_groups_ = [], []
        self.center_, self.scale_ = robust_statistics(X[tr])
        self.n_samples_in_, self.n_channels_in_ = int(X.shape[1]), int(X.shape[2])
        self.module_config_ = self._module_config(self.n_channels_in_, len(self.classes_))
        rng = np.random.default_rng(self.seed)
        stream = RandomStream(int(self.seed))  # weight initialisation and dropout
        with torch_settings(self.n_threads):
            with stream.turn():
                net = arch.build_network(self.module_config_)
            net.scaling.set_statistics(self.center_, self.scale_)
            self.module_ = net
            self.n_params_ = arch.count_parameters(net)
            self.macs_per_window_ = arch.count_macs(net, *X.shape[1:])
            self.embedding_dim_ = int(net.embedding_dim)
            self._train(net, X, y_idx, tr, va, rng, stream)
        net.eval()
        return self

    def _module_config(self, n_channels: int, n_classes: int) -> dict:
        """The plain configuration :func:`~tinyhar.models.nn.architectures.build_network` takes."""
        return {
            "architecture": self.architecture,
            "n_channels": int(n_channels),
            "n_classes": int(n_classes),
            "hidden_units": (
                [int(h) for h in self.hidden_units]
                if isinstance(self.hidden_units, Sequence)
                else int(self.hidden_units)
            ),
            "n_layers": int(self.n_layers),
            "kernel_size": int(self.kernel_size),
            "dropout": float(self.dropout),
            "dense_units": int(self.dense_units),
            "input_dense_units": int(self.input_dense_units),
            "input_stats": bool(self.input_stats),
        }

    def _train(self, net, X, y_idx, tr, va, rng, stream: RandomStream) -> None:
        torch = _torch()
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        schedule = (
            torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, int(self.epochs)))
            if self.lr_schedule == "cosine"
            else None
        )
        loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=float(self.label_smoothing))
        val_loss_fn = torch.nn.CrossEntropyLoss()
        augment = dict(
            groups=self.augment_groups,
            rotation=float(self.augment_rotation),
            scale=float(self.augment_scale),
            jitter=float(self.augment_jitter),
            shift=int(self.augment_shift),
            channel_scale=self.scale_,
        )
        Xt = torch.from_numpy(X)
        yt = torch.from_numpy(y_idx)
        bs = max(1, int(self.batch_size))
        best_loss, best_state, best_epoch, bad = np.inf, None, 0, 0
        steps = 0
        self.history_ = []
        early_stopping = bool(len(va)) and self.patience is not None
        n_average = 0
        if float(self.weight_averaging) > 0 and not early_stopping:
            n_average = max(1, int(np.ceil(float(self.weight_averaging) * int(self.epochs))))
        first_average = int(self.epochs) - n_average + 1
        # stochastic weight averaging: running mean of the parameters at the end of the
        # last n_average epochs (torch.optim.swa_utils.AveragedModel, equal weights)
        average = torch.optim.swa_utils.AveragedModel(net) if n_average else None
        self.averaged_epochs_ = []
        for epoch in range(1, int(self.epochs) + 1):
            net.train()
            order = tr[rng.permutation(len(tr))]
            loss_sum, correct, seen = 0.0, 0, 0
            for start in range(0, len(order), bs):
                b = torch.from_numpy(order[start : start + bs])
                if len(b) < 2 and len(order) > 1:
                    continue  # a batch of one breaks batch normalisation
                xb, yb = Xt[b], yt[b]
                xb = torch.from_numpy(augment_windows(xb.numpy(), rng, **augment))
                opt.zero_grad()
                with stream.turn():  # dropout
                    logits = net(xb)
                loss = loss_fn(logits, yb)
                loss.backward()
                opt.step()
                steps += 1
                loss_sum += loss.item() * len(b)
                correct += int((logits.argmax(1) == yb).sum())
                seen += len(b)
                if self.max_steps is not None and steps >= self.max_steps:
                    break
            if schedule is not None:
                schedule.step()
            row = {
                "epoch": epoch,
                "train_loss": loss_sum / max(seen, 1),
                "train_accuracy": correct / max(seen, 1),
                "val_loss": None,
                "val_accuracy": None,
                "steps": steps,
            }
            if len(va):
                logits = self._logits(net, Xt[torch.from_numpy(va)])
                row["val_loss"] = float(val_loss_fn(logits, yt[torch.from_numpy(va)]))
                row["val_accuracy"] = float((logits.argmax(1) == yt[va]).float().mean())
            self.history_.append(row)
            if self.verbose:
                val = (
                    f" val_loss={row['val_loss']:.4f} val_acc={row['val_accuracy']:.4f}"
                    if len(va)
                    else ""
                )
                print(
                    f"epoch {epoch}: loss={row['train_loss']:.4f} "
                    f"acc={row['train_accuracy']:.4f}{val}",
                    file=sys.stderr,
                )
            stop = self.max_steps is not None and steps >= self.max_steps
            if n_average and (epoch >= first_average or stop):
                average.update_parameters(net)
                self.averaged_epochs_.append(epoch)
            if early_stopping:
                if row["val_loss"] < best_loss - 1e-6:
                    best_loss, best_epoch, bad = row["val_loss"], epoch, 0
                    best_state = copy.deepcopy(net.state_dict())
                else:
                    bad += 1
                    if bad >= int(self.patience):
                        stop = True
            else:
                best_epoch = epoch
            if stop:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        if self.averaged_epochs_:
            with torch.no_grad():
                for p, q in zip(net.parameters(), average.module.parameters(), strict=True):
                    p.copy_(q)
            _recompute_batchnorm(net, Xt[torch.from_numpy(tr)], bs)
        self.best_epoch_ = best_epoch

    @staticmethod
    def _logits(net, Xt, batch: int = 1024):
        torch = _torch()
        net.eval()
        with torch.no_grad():
            parts = [net(Xt[i : i + batch]) for i in range(0, len(Xt), batch)]
        return torch.cat(parts)

    # -------------------------------------------------------------- predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "module_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(
                "this NeuralNetClassifier is not fitted yet: call fit(X, y, groups) first"
            )

    def _check_input(self, X: Any) -> np.ndarray:
        self._check_fitted()
        return check_windows(X, "X", self.n_samples_in_, self.n_channels_in_)

    def _run(self, X: Any, what: str, batch: int = 1024) -> np.ndarray:
        torch = _torch()
        X = self._check_input(X)
        net = self.module_
        net.eval()
        out = []
        with torch_settings(self.n_threads), torch.no_grad():
            for i in range(0, len(X), batch):
                xb = torch.from_numpy(X[i : i + batch])
                if what == "proba":
                    out.append(torch.softmax(net(xb), dim=1).numpy())
                else:
                    out.append(net.embed(xb).numpy())
        return np.concatenate(out).astype(np.float64 if what == "proba" else np.float32)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_windows, n_samples, n_channels)
            Raw windows with the training window length and channels.

        Returns
        -------
        numpy.ndarray of float64, shape (n_windows, n_classes)
            Softmax probabilities, columns in ``classes_`` order.

        Raises
        ------
        InputShapeError
            Wrong number of samples or channels.
        DataFormatError
            A window holding NaN, an infinity or a value beyond
            ``tinyhar.features.validity.MAX_ABS_INPUT``.
        """
        return self._run(X, "proba")

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class per window: numpy.ndarray of str, shape (n_windows,).

        Raises
        ------
        InputShapeError
            Wrong number of samples or channels.
        DataFormatError
            A window holding NaN, an infinity or a value beyond
            ``tinyhar.features.validity.MAX_ABS_INPUT``.
        """
        self._check_fitted()
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def embed(self, X: Any) -> np.ndarray:
        """Penultimate-layer embeddings (the body output, before the linear head).

        Parameters
        ----------
        X : numpy.ndarray, shape (n_windows, n_samples, n_channels)

        Returns
        -------
        numpy.ndarray of float32, shape (n_windows, embedding_dim_)

        Raises
        ------
        InputShapeError
            Wrong number of samples or channels.
        DataFormatError
            A window holding NaN, an infinity or a value beyond
            ``tinyhar.features.validity.MAX_ABS_INPUT``.
        """
        return self._run(X, "embed")

    # -------------------------------------------------------------- storage
    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The fitted network as JSON-serialisable values and numeric arrays (no pickle).

        Returns
        -------
        meta : dict
            ``params`` (constructor parameters; tuples become lists) and
            ``fitted``: ``classes``, ``history``, ``best_epoch``,
            ``averaged_epochs``, ``train_groups``, ``validation_groups``,
            ``n_params``, ``macs_per_window``, ``embedding_dim``,
            ``module_config``. The input shape (``n_samples_in_``,
            ``n_channels_in_``) is not written: the file that holds the network
            stores it once, in its window spec (a pipeline file's
            ``pipeline.window_spec``), and :meth:`from_state` gets it from there.
        arrays : dict of str to numpy.ndarray
            ``center``, ``scale`` (float32, (n_channels,)) and
            ``state.<name>`` for every entry of the network's state dict.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the network is not fitted.
        """
        self._check_fitted()
        params = self.get_params()
        for key in ("hidden_units", "augment_groups"):
            params[key] = _plain(params[key])
        fitted = {
            "classes": [str(c) for c in self.classes_],
            "history": self.history_,
            "best_epoch": int(self.best_epoch_),
            "averaged_epochs": [int(e) for e in self.averaged_epochs_],
            "train_groups": [str(g) for g in self.train_groups_],
            "validation_groups": [str(g) for g in self.validation_groups_],
            "n_params": int(self.n_params_),
            "macs_per_window": int(self.macs_per_window_),
            "embedding_dim": int(self.embedding_dim_),
            "module_config": self.module_config_,
        }
        arrays = {"center": np.asarray(self.center_), "scale": np.asarray(self.scale_)}
        for key, value in self.module_.state_dict().items():
            arrays[f"state.{key}"] = value.detach().cpu().numpy().copy()
        return {"params": params, "fitted": fitted}, arrays

    @classmethod
    def from_state(cls, state: StateReader, n_samples: int,
                   n_channels: int) -> NeuralNetClassifier:
        """Rebuild a fitted network from :meth:`to_state`'s values (needs PyTorch, no pickle).

        The network is rebuilt from the parameters (the stored ``module_config``
        must match them), and every state-dict array must have the name,
        shape and dtype the rebuilt network expects.

        Parameters
        ----------
        state : StateReader
            The model's section of a model file (:mod:`tinyhar.modelfile`).
        n_samples, n_channels : int
            Input shape of a window, from the file's window spec: the network's
            ``n_samples_in_`` and ``n_channels_in_``. Files of model format 1
            also stored them in the model (``fitted.n_samples_in``,
            ``fitted.n_channels_in``); such values must equal these.

        Returns
        -------
        NeuralNetClassifier
            Predicts like the saved one (same classes; probabilities equal up
            to float32 rounding of the machine's kernels).

        Raises
        ------
        TinyharError
            PyTorch missing (with the install command).
        tinyhar.modelfile.ModelFileError
            Missing or mistyped entries, unknown parameters, weights that do
            not fit the architecture, or a stored input shape that differs
            from ``(n_samples, n_channels)``.
        """
        torch = _torch()
        arch = _architectures()
        params = state.params(cls)
        if isinstance(params.get("hidden_units"), list):
            params["hidden_units"] = tuple(params["hidden_units"])
        if isinstance(params.get("augment_groups"), list):
            params["augment_groups"] = tuple(
                tuple(g) if isinstance(g, list) else g for g in params["augment_groups"]
            )
        net = cls(**params)
        f = state.section("fitted")
        classes = f.strings("classes")
        n_samples, n_channels = int(n_samples), int(n_channels)
        stored = (f.value("n_samples_in", "int", optional=True),  # model format 1 only
                  f.value("n_channels_in", "int", optional=True))
        if stored != (None, None) and stored != (n_samples, n_channels):
            raise state.error(
                f"the network was fitted on windows of {stored[0]} samples x {stored[1]} "
                f"channels (model.fitted.n_samples_in, n_channels_in) but the window spec says "
                f"{n_samples} x {n_channels}: the file was edited or damaged"
            )
        if len(classes) < 2 or n_samples < 1 or n_channels < 1:
            raise state.error("the network has fewer than 2 classes or an empty input shape")
        try:
            config = net._module_config(n_channels, len(classes))
        except (TypeError, ValueError) as exc:
            raise state.error(f"invalid network parameters: {exc}") from None
        if f.value("module_config", "dict") != config:
            raise state.error("the stored network configuration does not match its parameters")
        try:
            module = arch.build_network(config)
        except (TinyharError, TypeError, ValueError, RuntimeError) as exc:
            raise state.error(f"cannot rebuild the network: {exc}") from None
        expected = module.state_dict()
        names = state.array_names("state")
        if sorted(expected) != names:
            missing = sorted(set(expected) - set(names))
            extra = sorted(set(names) - set(expected))
            raise state.error(
                f"the network weights do not fit the architecture (missing {missing[:3]}, "
                f"unexpected {extra[:3]})"
            )
        weights = {}
        for key, tensor in expected.items():
            dtype = np.dtype(str(tensor.dtype).removeprefix("torch."))
            arr = state.array(f"state.{key}", dtype, tuple(tensor.shape))
            if dtype.kind == "f" and not np.isfinite(arr).all():
                raise state.error(f"the network weight {key!r} is not finite")
            weights[key] = torch.from_numpy(arr.copy())
        module.load_state_dict(weights)
        module.eval()
        center = state.array("center", np.float32, (n_channels,))
        scale = state.array("scale", np.float32, (n_channels,))
        if arch.count_parameters(module) != f.value("n_params", "int") or int(
            module.embedding_dim
        ) != f.value("embedding_dim", "int"):
            raise state.error("the stored parameter count or embedding size does not match")
        net.classes_ = np.asarray(classes, dtype=object)
        net.n_samples_in_, net.n_channels_in_ = n_samples, n_channels
        net.center_, net.scale_ = center, scale
        net.history_ = f.value("history", "list")
        net.best_epoch_ = f.value("best_epoch", "int")
        net.averaged_epochs_ = f.value("averaged_epochs", "list")
        net.train_groups_ = f.strings("train_groups")
        net.validation_groups_ = f.strings("validation_groups")
        net.n_params_ = f.value("n_params", "int")
        net.macs_per_window_ = f.value("macs_per_window", "int")
        net.embedding_dim_ = f.value("embedding_dim", "int")
        net.module_config_ = config
        net.module_ = module
        return net

    # ------------------------------------------------------------- pickling
    # In memory only (copy.deepcopy, worker processes); files use to_state.
    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        module = state.pop("module_", None)
        if module is not None:
            state["_module_state"] = {
                k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()
            }
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        module_state = state.pop("_module_state", None)
        super().__setstate__(state)
        if module_state is not None:
            torch = _torch()
            net = _architectures().build_network(self.module_config_)
            net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in module_state.items()})
            net.eval()
            self.module_ = net


def _plain(value: Any) -> Any:
    """Tuples (nested) as lists, for JSON."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value

"""What the neural-network estimator builds on: lazy PyTorch import, torch settings, input checks.

PyTorch is imported only when a network is built, trained or loaded
(:func:`_torch`), so that importing this module, the estimator and the
presets does not need the ``deep`` extra.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinyhar import validation
from tinyhar.errors import TinyharError

DEEP_INSTALL_HINT = "pip install 'tinyhar[deep]'"


class InputShapeError(TinyharError, ValueError):
    """Windows given to a network do not have the shape it was trained on."""


class NoGroupsWarning(UserWarning):
    """``fit`` got no subjects: the validation split is random and leaks subjects."""


def _torch():
    """Import torch, or raise a :class:`TinyharError` with the install command."""
    try:
        import torch
    except ImportError as exc:
        raise TinyharError(
            f"the neural-network models need PyTorch, which is not installed: {DEEP_INSTALL_HINT}"
        ) from exc
    return torch


def _architectures():
    _torch()
    from tinyhar.models.nn import architectures

    return architectures


_SETTINGS_LOCK = threading.Lock()
_SETTINGS: dict[str, Any] = {"active": 0, "saved": None}
"""Contexts of :func:`torch_settings` open in this process, and the settings before the first."""
_OUTER = threading.local()
"""Per thread: its thread count before each of its open :func:`torch_settings` contexts."""


@contextlib.contextmanager
def torch_settings(n_threads: int | None, deterministic: bool = True) -> Iterator[None]:
    """Temporarily set torch's CPU thread count and deterministic mode, then restore them.

    Safe for concurrent use by several threads of one process (the
    cross-validation folds of a network on the ``threads`` scheduler,
    :func:`tinyhar.training.trees.fit_with_folds`): torch's settings are
    process-wide (the MKL thread count, deterministic mode), so they are
    saved when the first context opens and restored when the last one
    closes, never while another thread is still inside one; each entering
    thread sets its own thread count (OpenMP's is per thread). Contexts open
    at the same time should ask for the same ``n_threads`` (the folds of a
    run do); nested contexts in one thread restore the outer one's count.

    Parameters
    ----------
    n_threads : int or None
        Intra-op CPU threads (capped at the machine's cores); None keeps torch's.
    deterministic : bool
        Switch on :func:`torch.use_deterministic_algorithms` (``warn_only``).
    """
    torch = _torch()
    stack = _OUTER.__dict__.setdefault("stack", [])
    with _SETTINGS_LOCK:
        if _SETTINGS["active"] == 0:
            _SETTINGS["saved"] = (torch.get_num_threads(),
                                  torch.are_deterministic_algorithms_enabled())
        _SETTINGS["active"] += 1
        stack.append(torch.get_num_threads())  # this thread's count before the context
        if n_threads:
            torch.set_num_threads(max(1, min(int(n_threads), os.cpu_count() or 1)))
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        with _SETTINGS_LOCK:
            before = stack.pop()
            _SETTINGS["active"] -= 1
            if _SETTINGS["active"] == 0:
                threads, det = _SETTINGS["saved"]
                torch.set_num_threads(threads)
                torch.use_deterministic_algorithms(det)
            elif stack and n_threads:  # nested: the outer context's count again
                torch.set_num_threads(before)


_RANDOM_LOCK = threading.Lock()
"""Held while a :class:`RandomStream` draws from torch's process-wide generator."""


class RandomStream:
    """One training run's own stream of torch's default random generator.

    Weight initialisation and dropout draw from torch's process-wide CPU
    generator, which runs of one process on several threads (network folds
    on the ``threads`` scheduler) would otherwise share in an order that
    depends on timing. A stream starts at ``torch.manual_seed(seed)``; each
    :meth:`turn` puts its state into the generator, holds it (a process-wide
    lock) while the block draws, and keeps the state the block left. A run
    alone in its process draws exactly the numbers it would without the
    stream, so results equal those of a serial run bit for bit.

    Parameters
    ----------
    seed : int
        Seed of the stream (``torch.manual_seed``).
    """

    def __init__(self, seed: int) -> None:
        torch = _torch()
        with _RANDOM_LOCK:
            saved = torch.random.get_rng_state()
            torch.manual_seed(int(seed))
            self._state = torch.random.get_rng_state()
            torch.random.set_rng_state(saved)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Draw from this stream in the block (other streams wait)."""
        torch = _torch()
        with _RANDOM_LOCK:
            torch.random.set_rng_state(self._state)
            try:
                yield
            finally:
                self._state = torch.random.get_rng_state()


def check_windows(
    X: Any, where: str = "windows", n_samples: int | None = None, n_channels: int | None = None
) -> np.ndarray:
    """Return ``X`` as a C-contiguous float32 array of shape (n_windows, n_samples, n_channels).

    Accepts an array or any object with an ``X`` attribute (a
    :class:`~tinyhar.core.windowset.WindowSet`). ``n_samples`` and
    ``n_channels``, when given, are the shape the network was trained on.

    Raises
    ------
    InputShapeError
        If ``X`` is not a 3-D numeric array or is empty
        (:func:`tinyhar.validation.check_windows`).
    DataFormatError
        If a window holds NaN, an infinity or a value beyond
        :data:`~tinyhar.features.validity.MAX_ABS_INPUT`: the input contract
        of every model (:func:`tinyhar.features.validity.check_valid`).
    """
    X = validation.check_windows(
        getattr(X, "X", X), source=where, min_windows=1, n_samples=n_samples,
        n_channels=n_channels, trained_on="the network was trained on",
        error=lambda source, message: InputShapeError(f"{source}: {message}"),
    )
    # the input contract of every model; imported here so that importing the network
    # presets (the CLI lists them) does not import the feature code
    from tinyhar.features.validity import check_valid

    check_valid(X, [f"channel {c}" for c in range(X.shape[2])], where)
    return X


def robust_statistics(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel median and interquartile range of windows (n_windows, n_samples, n_channels).

    Returns
    -------
    center, scale : numpy.ndarray of float32, shape (n_channels,)
        Median and IQR (75th minus 25th percentile) over all samples of all
        windows; a scale below 1e-6 (a constant channel) is replaced by 1.
    """
    flat = X.reshape(-1, X.shape[2])
    q25, q50, q75 = np.percentile(flat, [25, 50, 75], axis=0)
    scale = q75 - q25
    scale = np.where(scale < 1e-6, 1.0, scale)
    return q50.astype(np.float32), scale.astype(np.float32)


def _batchnorm_pass_model(net):
    """``net`` wrapped so that ``train()`` switches on its batch-normalisation layers only.

    :func:`torch.optim.swa_utils.update_bn` puts the model it is given in
    training mode; through this wrapper dropout stays in evaluation mode
    during that pass, so the re-estimated statistics are those of the
    activations the network sees when it predicts (dropout off).
    """
    torch = _torch()

    class _BatchNormOnlyTraining(torch.nn.Module):
        def __init__(self, inner) -> None:
            super().__init__()
            self.inner = inner

        def train(self, mode: bool = True):  # noqa: D102 - see the class docstring
            self.training = mode
            self.inner.eval()
            for m in self.inner.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.train(mode)
            return self

        def forward(self, x):
            return self.inner(x)

    return _BatchNormOnlyTraining(net)


def _recompute_batchnorm(net, Xt, batch: int) -> None:
    """Reset and re-estimate the running statistics of every BatchNorm layer.

    One pass of :func:`torch.optim.swa_utils.update_bn` (cumulative averaging,
    ``momentum=None``) over ``Xt`` (float32 tensor, shape (n_windows,
    n_samples, n_channels)) in batches of ``batch`` windows, with the
    batch-normalisation layers in training mode and every other layer
    (dropout) in evaluation mode (:func:`_batchnorm_pass_model`); no weight
    changes. Nothing happens for a network without batch normalisation. A
    last batch of one window is left out (a batch of one breaks batch
    normalisation), as in training.
    """
    torch = _torch()
    batches = [Xt[i : i + batch] for i in range(0, len(Xt), batch)
               if i == 0 or len(Xt) - i >= 2]
    torch.optim.swa_utils.update_bn(batches, _batchnorm_pass_model(net))
    net.eval()

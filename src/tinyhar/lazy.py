"""Public names of a package imported on first use (PEP 562 module ``__getattr__``).

A package that re-exports names of heavy submodules (scikit-learn, matplotlib,
torch) lists them once, by module, and gets its ``__all__``, ``__getattr__``
and ``__dir__`` from :func:`lazy_exports`, so that importing the package stays
light::

    __all__, __getattr__, __dir__ = lazy_exports(
        __name__, {"tinyhar.models.pipeline": ("HarPipeline", "PIPELINE_FILE")}
    )

This module imports only the standard library (bottom layer).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_exports(
    package: str, modules: Mapping[str, Sequence[str]]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` of a package whose names load on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    modules : mapping of str to sequence of str
        Module -> the public names it defines.

    Returns
    -------
    __all__ : list of str
        The listed names, sorted.
    __getattr__ : callable(str) -> object
        Imports the module of a listed name, caches the value in the package
        and returns it; raises :class:`AttributeError` for any other name.
    __dir__ : callable() -> list of str
        The package's attributes and the listed names, sorted.

    Raises
    ------
    ValueError
        A name listed under two modules.
    """
    where: dict[str, str] = {}
    for module, names in modules.items():
        for name in names:
            if where.setdefault(name, module) != module:
                raise ValueError(f"{package}: {name!r} listed under {where[name]} and {module}")

    def __getattr__(name: str) -> Any:  # noqa: N807 (the module hook's name)
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(vars(sys.modules[package])) | set(where))

    return sorted(where), __getattr__, __dir__

"""Export of trained models for deployment.

:func:`tinyhar.export.onnx.export_onnx` writes float32 and int8 ONNX files of
a neural network (needs the ``deep`` extra). This package imports neither
torch nor onnx until an export is requested.
"""

from __future__ import annotations

__all__ = ["export_onnx", "run_onnx"]


def __getattr__(name: str):
    if name in __all__:
        from tinyhar.export import onnx as _onnx

        return getattr(_onnx, name)
    raise AttributeError(f"module 'tinyhar.export' has no attribute {name!r}")

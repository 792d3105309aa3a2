"""Weights to and from PyTorch's recurrent modules, through safetensors files (no torch needed)."""

from .files import export_session, import_weights, read_safetensors
from .torch_names import check_exportable, from_torch, to_torch

__all__ = ["export_session", "import_weights", "read_safetensors", "check_exportable", "from_torch", "to_torch"]

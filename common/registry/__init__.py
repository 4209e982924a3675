"""The registry of coding tools (``docs/adding-a-tool.md``).

``default_registry()`` lists every tool (built-in, and those of the modules ``ICM_EXTRA_TOOLS`` names);
``ToolEntry`` describes one; ``ToolInstances`` makes and keeps the encoder and decoder objects of a loop.
Importing this package imports no tool, and no torch.
"""
from .entry import RATE_PARAMETERS, RateParameter, Setting, ToolEntry
from .instances import ToolInstances
from .registry import EXTRA_TOOLS_ENV, ToolRegistry, default_registry

__all__ = ["RATE_PARAMETERS", "RateParameter", "Setting", "ToolEntry", "ToolInstances", "ToolRegistry",
           "default_registry", "EXTRA_TOOLS_ENV"]

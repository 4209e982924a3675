"""The registry of coding tools: every tool by name and by syntax id, built-in ones and those a module adds.

``default_registry()`` is the process's registry: the built-in tools (``builtin.py``) and the tools of the
modules that ``ICM_EXTRA_TOOLS`` names (comma-separated import names; each module has ``ICM_TOOLS``, an
iterable of :class:`ToolEntry`). Everything that lists or dispatches tools asks it: ``icm-enc --tool``,
``icm-dec``'s dispatch on ``ps_tool_id``, the CTC configuration, ``--help`` and the summaries.
"""
from __future__ import annotations

import dataclasses
import importlib
import os
from typing import Iterable

from ..errors import BitstreamError, ConfigError
from ..syntax import structures as S
from .builtin import BUILTIN_TOOLS
from .entry import Setting, ToolEntry

EXTRA_TOOLS_ENV = "ICM_EXTRA_TOOLS"
MAX_TOOL_ID = 255  # ps_tool_id is u(8)


class ToolRegistry:
    """Tools by name and by id, in registration order."""

    def __init__(self, entries: Iterable[ToolEntry] = ()):
        self._by_name: dict[str, ToolEntry] = {}
        self._by_id: dict[int, ToolEntry] = {}
        for entry in entries:
            self.register(entry)

    def register(self, entry: ToolEntry) -> ToolEntry:
        """Add ``entry`` (its id filled in from the syntax's TOOLS table when it gives none); ConfigError if
        its name or id is taken, or its id disagrees with the table."""
        specified = {name: idx for idx, name in S.TOOLS.items()}
        tool_id = entry.tool_id
        if tool_id is None:
            if entry.name not in specified:
                raise ConfigError(f"tool '{entry.name}' is not in the syntax's TOOLS table: give it a tool_id "
                                  f"outside {sorted(S.TOOLS)}")
            tool_id = specified[entry.name]
        if not isinstance(tool_id, int) or not 0 <= tool_id <= MAX_TOOL_ID:
            raise ConfigError(f"tool '{entry.name}': tool_id {tool_id!r} outside 0..{MAX_TOOL_ID}")
        if tool_id in S.TOOLS and S.TOOLS[tool_id] != entry.name:
            raise ConfigError(f"tool '{entry.name}': id {tool_id} is {S.TOOLS[tool_id]}'s in the syntax")
        if entry.name in self._by_name or tool_id in self._by_id:
            taken = self._by_name.get(entry.name) or self._by_id[tool_id]
            raise ConfigError(f"tool '{entry.name}' (id {tool_id}): name or id already taken by '{taken.name}'")
        _check_entry(entry)
        entry = dataclasses.replace(entry, tool_id=tool_id)
        self._by_name[entry.name] = entry
        self._by_id[tool_id] = entry
        return entry

    def register_module(self, module_name: str) -> list[ToolEntry]:
        """Import ``module_name`` and register its ``ICM_TOOLS``."""
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"{EXTRA_TOOLS_ENV}: cannot import '{module_name}': {exc}") from None
        entries = getattr(module, "ICM_TOOLS", None)
        if entries is None:
            raise ConfigError(f"{EXTRA_TOOLS_ENV}: module '{module_name}' has no ICM_TOOLS")
        return [self.register(entry) for entry in entries]

    # -- lookup -----------------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._by_name)

    def entries(self) -> list[ToolEntry]:
        return list(self._by_name.values())

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def get(self, name: str) -> ToolEntry:
        """The tool called ``name``; ConfigError (exit status 2) if there is none."""
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            raise ConfigError(f"unknown tool '{name}' (available: {', '.join(self.names())})") from None

    def for_stream(self, tool_id: int) -> ToolEntry:
        """The tool a stream's ``ps_tool_id`` names; BitstreamError (exit status 4) if this decoder has none."""
        entry = self._by_id.get(tool_id)
        if entry is None:
            name = S.TOOLS.get(tool_id)
            raise BitstreamError(f"tool '{name}' is not supported by this decoder" if name
                                 else f"unknown tool id {tool_id}")
        return entry

    def name_of(self, tool_id: int) -> str:
        """The name of tool ``tool_id`` (registered or specified), or ``tool <id>``."""
        entry = self._by_id.get(tool_id)
        return entry.name if entry is not None else S.TOOLS.get(tool_id, f"tool {tool_id}")

    def with_rate(self, parameter: str) -> list[ToolEntry]:
        """The tools whose rate point is set by ``parameter`` (``qp`` or ``quality``)."""
        return [e for e in self._by_name.values() if e.rate.name == parameter]

    def settings(self) -> dict[str, list[tuple[ToolEntry, Setting]]]:
        """Every setting name with the tools that have it (and their declaration of it)."""
        found: dict[str, list[tuple[ToolEntry, Setting]]] = {}
        for entry in self._by_name.values():
            for setting in entry.all_settings():
                found.setdefault(setting.name, []).append((entry, setting))
        return found

    def owners(self, setting: str) -> list[str]:
        """Names of the tools that have ``setting`` (a rate parameter or a tool setting)."""
        return [e.name for e in self._by_name.values() if setting == e.rate.name or setting in e.setting_names()]


def _check_entry(entry: ToolEntry) -> None:
    if entry.models is not None:
        if entry.models.tool != entry.name:
            raise ConfigError(f"tool '{entry.name}': its model set carries another name ({entry.models.tool})")
        if entry.rate.name == "quality" and not set(range(entry.rate.minimum, entry.rate.maximum + 1)) <= set(
                entry.models.qualities):
            raise ConfigError(f"tool '{entry.name}': qualities {entry.rate.minimum}..{entry.rate.maximum} "
                              f"outside its model set's")
    names = [s.name for s in entry.all_settings()]
    if len(set(names)) != len(names) or entry.rate.name in names:
        raise ConfigError(f"tool '{entry.name}': a setting is declared twice")


_DEFAULT: dict[str, ToolRegistry] = {}


def default_registry() -> ToolRegistry:
    """The process's registry: the built-in tools and those of the modules ``ICM_EXTRA_TOOLS`` names
    (made on first use, again when that variable changes)."""
    extra = os.environ.get(EXTRA_TOOLS_ENV, "")
    if extra not in _DEFAULT:
        registry = ToolRegistry(BUILTIN_TOOLS)
        for module_name in (m.strip() for m in extra.split(",")):
            if module_name:
                registry.register_module(module_name)
        _DEFAULT[extra] = registry
    return _DEFAULT[extra]

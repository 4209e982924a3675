"""Registry of task networks by numeric id and name.

The numeric id is written in the bitstream's parameter set, so ids are permanent: never change
or reuse one. Id 0 is reserved ("no task network").

==  ======================  ===========================
id  name                    model
==  ======================  ===========================
1   yolo-fastest-1.1-xl     Yolo-Fastest 1.1 XL (darknet)
2   yolo-fastest-1.1        Yolo-Fastest 1.1 (darknet)
==  ======================  ===========================
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ..errors import ConfigError
from .base import TaskNetwork


@dataclass(frozen=True)
class TaskNetworkEntry:
    """A registered network: ``factory(input_size=(W, H), device=..., **options)`` builds it."""

    network_id: int
    name: str
    default_input_size: tuple[int, int]
    factory: Callable[..., TaskNetwork]
    description: str = ""


_ENTRIES: dict[int, TaskNetworkEntry] = {}


def register_task_network(entry: TaskNetworkEntry) -> None:
    """Add a network; its id must be in 1..255 and neither id nor name may be taken already."""
    if not 1 <= entry.network_id <= 255:
        raise ValueError(f"task network id must be in 1..255, got {entry.network_id}")
    for other in _ENTRIES.values():
        if other.network_id == entry.network_id or other.name == entry.name:
            if other == entry:
                return
            raise ValueError(f"task network {entry.network_id}/{entry.name} clashes with "
                             f"{other.network_id}/{other.name}")
    _ENTRIES[entry.network_id] = entry


def registered_task_networks() -> list[TaskNetworkEntry]:
    """All registered networks, by id."""
    return [_ENTRIES[key] for key in sorted(_ENTRIES)]


def resolve_task_network(name_or_id: str | int) -> TaskNetworkEntry:
    """The entry for a name (``"yolo-fastest-1.1-xl"``) or id (``1`` or ``"1"``); ConfigError if unknown."""
    if isinstance(name_or_id, int) or (isinstance(name_or_id, str) and name_or_id.strip().isdigit()):
        entry = _ENTRIES.get(int(name_or_id))
    else:
        entry = next((e for e in _ENTRIES.values() if e.name == str(name_or_id).strip().lower()), None)
    if entry is None:
        known = ", ".join(f"{e.network_id}={e.name}" for e in registered_task_networks())
        raise ConfigError(f"unknown task network '{name_or_id}' (known: {known})")
    return entry


def load_task_network(name_or_id: str | int, input_size: int | tuple[int, int] | None = None,
                      device: str | torch.device = "cpu", **options) -> TaskNetwork:
    """Build a registered network with its weights.

    ``input_size``: ``(width, height)`` or one int for a square input; default: the network's
    default size. ``options`` go to the network (e.g. post-processing thresholds).
    """
    entry = resolve_task_network(name_or_id)
    if input_size is None:
        input_size = entry.default_input_size
    elif isinstance(input_size, int):
        input_size = (input_size, input_size)
    return entry.factory(input_size=tuple(input_size), device=torch.device(device), **options)

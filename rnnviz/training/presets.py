"""Named starting points (settings from the tutorials and papers) stored as JSON in ``rnnviz/presets``.

Each file ``<name>.json`` holds ``{"name", "title", "description", "source", "steps", "config"}``;
``config`` is a partial ``Config`` (missing fields keep their defaults). The files are package data,
read through ``importlib.resources``, so they are found in a wheel as in a checkout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING

from rnnviz.errors import InputError
from rnnviz.training.config import TASKS, Config

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable   # Python 3.11+; importlib.abc on 3.10

PRESETS_DIR: Traversable = files("rnnviz") / "presets"
_KEYS = ("name", "title", "description", "source", "steps", "config")


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    description: str
    source: str        # where the setting comes from (tutorial, paper)
    steps: int         # default number of training steps
    config: Config     # validated, with config.preset == name


def list_presets() -> list[Preset]:
    """Every preset, grouped by task (in ``TASKS`` order), then by name.

    ``InputError`` when there is none: the installation lost its preset files.
    """
    paths = _preset_files()
    if not paths:
        raise InputError(f"no preset files found in {PRESETS_DIR}: this rnnviz installation is "
                         "incomplete (reinstall it)")
    presets = [_read(path) for path in paths.values()]
    return sorted(presets, key=lambda p: (TASKS.index(p.config.task), p.name))


def load_preset(name: str) -> Preset:
    """The preset called ``name``; ``InputError`` listing the known names when there is none."""
    paths = _preset_files()
    if not isinstance(name, str) or name not in paths:
        known = ", ".join(paths) or f"none (no preset files found in {PRESETS_DIR})"
        raise InputError(f"unknown preset {name!r}; known presets: {known}")
    return _read(paths[name])


def _preset_files() -> dict[str, Traversable]:
    """``{name: file}`` for every ``<name>.json`` in ``PRESETS_DIR``, sorted by name."""
    if not PRESETS_DIR.is_dir():
        return {}
    found = {entry.name.removesuffix(".json"): entry for entry in PRESETS_DIR.iterdir()
             if entry.name.endswith(".json") and entry.is_file()}
    return dict(sorted(found.items()))


def _read(path: Traversable) -> Preset:
    """Parse and validate one preset file; ``ValueError`` naming the file and the problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(f"preset file {path.name} cannot be read: {err}") from None
    if not isinstance(data, dict) or set(data) != set(_KEYS):
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise InputError(f"preset file {path.name} must have exactly the keys {', '.join(_KEYS)} (got {got})")
    for key in ("name", "title", "description", "source"):
        if not isinstance(data[key], str) or not data[key].strip():
            raise InputError(f"preset file {path.name}: {key} must be a non-empty string")
    if data["name"] != path.name.removesuffix(".json"):
        raise InputError(f"preset file {path.name}: name {data['name']!r} must match the file name")
    steps = data["steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise InputError(f"preset file {path.name}: steps must be a positive whole number (got {steps!r})")
    if not isinstance(data["config"], dict) or "preset" in data["config"]:
        raise InputError(f"preset file {path.name}: config must be an object of settings (without 'preset')")
    try:
        config = Config.from_dict({**data["config"], "preset": data["name"]})
    except ValueError as err:
        raise InputError(f"preset file {path.name}: {err}") from None
    return Preset(name=data["name"], title=data["title"], description=data["description"],
                  source=data["source"], steps=steps, config=config)

"""Kobold's themes as data: one JSON file per theme in this folder, loaded into Textual `Theme`s."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from textual.theme import Theme

DEFAULT_THEME = "kobold-dark"
_THEME_FIELDS = (
    "name", "primary", "secondary", "warning", "error", "success", "accent", "foreground",
    "background", "surface", "panel", "boost", "dark", "luminosity_spread", "text_alpha", "variables", "ansi",
)  # fmt: skip


def theme_from_data(data: dict[str, Any]) -> Theme:
    """A Textual theme from its JSON description; unknown keys are an error, not silently dropped."""
    unknown = set(data) - set(_THEME_FIELDS)
    if unknown:
        raise ValueError(f"Theme {data.get('name')!r} has unknown keys: {', '.join(sorted(unknown))}.")
    return Theme(**data)


def load_themes() -> list[Theme]:
    """Every theme shipped in this folder, sorted by name."""
    out = []
    for entry in sorted(resources.files(__package__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".json"):
            out.append(theme_from_data(json.loads(entry.read_text(encoding="utf-8"))))
    return out

"""config.toml of a store: typed settings with documented defaults."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from engine.errors import KoboldError
from engine.paths import CONFIG_FILE


@dataclass
class Config:
    # Largest JSON size of one signed event; relays commonly refuse events above 64 KiB.
    max_event_bytes: int = 32 * 1024
    # Time a formula may take per record before it yields an "#ERR … ran longer than" value.
    formula_time_ms: float = 50.0
    # Theme name from themes/ used by the TUI.
    theme: str = "kobold-dark"
    # Nostr relays to replicate through (used by sync).
    relays: list[str] = field(default_factory=list)
    # Key remapping for the TUI: binding id -> keys (Textual's keymap).
    keymap: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Path) -> Config:
        path = home / CONFIG_FILE
        if not path.exists():
            return cls()
        try:
            data: dict[str, Any] = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise KoboldError(f"{path} is not valid TOML ({exc}); fix or delete it.") from None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        (home / CONFIG_FILE).write_text(tomli_w.dumps(asdict(self)))

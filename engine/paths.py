"""Where a store lives: --home, else $KOBOLD_HOME, else the platform's user data directory."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DB_FILE = "kobold.duckdb"
KEY_FILE = "identity.nsec"
CONFIG_FILE = "config.toml"
LOCK_FILE = "kobold.lock"


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """The store directory the user asked for, in order of precedence."""
    if home:
        return Path(home).expanduser()
    env = os.environ.get("KOBOLD_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("kobold", appauthor=False))

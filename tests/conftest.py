"""Shared fixtures: real stores in temporary directories, real signatures, the demo dataset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from engine import datasets
from engine.store import Store

if TYPE_CHECKING:
    from tests.sync.relays import NostrRelayServer

SEED_SCHEMA = {
    "resource": "SeedVariety",
    "fields": {
        "species": {"type": "string", "required": True},
        "variety_name": {"type": "string", "required": True},
        "germination_days": {"type": "integer"},
        "price": {"type": "decimal", "scale": 2},
        "organic": {"type": "boolean"},
        "sow_from": {"type": "date"},
        "status": {"type": "choice", "choices": ["active", "retired"]},
        "notes": {"type": "text"},
    },
}


@pytest.fixture(autouse=True)
def _isolated_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No test may touch the real user data directory.
    monkeypatch.setenv("KOBOLD_HOME", str(tmp_path / "default-home"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "home") as s:
        yield s


@pytest.fixture
def seeds(store: Store) -> str:
    """A dataset with the SeedVariety resource."""
    ds = datasets.create_dataset(store, "Seeds", visibility="public")
    datasets.apply_schema(store, ds, [SEED_SCHEMA])
    return ds


@pytest.fixture
def local_relay() -> Iterator[str]:
    """nostr-sdk's LocalRelay on 127.0.0.1, stopped after the test."""
    from tests.sync.relays import start_local_relay

    relay, url = start_local_relay()
    yield url
    relay.shutdown()


@pytest.fixture
def nostr_relay(tmp_path: Path) -> Iterator[NostrRelayServer]:
    """The nostr-relay server as its own process with its own SQLite file, stopped after the test."""
    from tests.sync.relays import NostrRelayServer

    (tmp_path / "nostr-relay").mkdir()
    server = NostrRelayServer(tmp_path / "nostr-relay")
    server.start()
    yield server
    server.stop()

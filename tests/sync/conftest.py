"""Fixtures for sync tests: three stores with their own homes and keys (the relays are in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.store import Store


@pytest.fixture
def alice(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "alice") as s:
        yield s


@pytest.fixture
def bob(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "bob") as s:
        yield s


@pytest.fixture
def carol(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "carol") as s:
        yield s

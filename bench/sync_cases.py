"""Replication benchmarks: the `import` case's dataset sent from its store to a fresh one through real relays."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

from bench.cases import _dataset, _store, case


def _aged_store(n: int, work: Path) -> Any:
    """Like the `import` case's store, but its history was signed two hours ago: a snapshot taken now is
    then newer than the history, as in a dataset that has lived a while (the follower skips that history)."""
    from bench.seed_data import SEED_VARIETY_SCHEMA, write_seed_csv
    from engine import csv_import, datasets
    from engine.store import Store

    path = work / f"store-{n}-aged"
    if not (path / "kobold.duckdb").exists():
        csv = work / f"seed_{n}.csv"
        if not csv.exists():
            write_seed_csv(csv, n)
        with Store.open(path) as s:
            now = s.now
            s.now = lambda: now() - 7200
            ds = datasets.create_dataset(s, "Seeds", visibility="public")
            datasets.apply_schema(s, ds, [SEED_VARIETY_SCHEMA])
            csv_import.import_csv(s, ds, "SeedVariety", csv)
    return Store.open(path)


def _replicate(n: int, work: Path, url: str, use_snapshot: bool) -> dict[str, Any]:
    from engine import snapshot, state_hash
    from engine.store import Store
    from sync import replication, state
    from sync.session import sync_once

    with _aged_store(n, work) if use_snapshot else _store(n, work) as a:
        ds = _dataset(a)
        state.ensure_tables(a)
        a.con.execute("DELETE FROM sync_held")  # a fresh relay holds nothing
        t = time.perf_counter()
        replication.publish(a, ds, with_snapshot=use_snapshot)
        sign_s = time.perf_counter() - t
        t = time.perf_counter()
        pushed = asyncio.run(sync_once(a, [url]))
        push_s = time.perf_counter() - t
        assert pushed.relays_ok == [url], pushed.to_dict()
        sent = state_hash.state_hash(a, ds)
        address = replication.share_address(a, ds) or ""
    target = work / f"store-{n}-via-relay"
    shutil.rmtree(target, ignore_errors=True)
    with Store.open(target) as b:
        replication.follow(b, address, None, [url])
        t = time.perf_counter()
        got = asyncio.run(sync_once(b, [url]))
        pull_s = time.perf_counter() - t
        assert state_hash.state_hash(b, ds) == sent and not got.rejected, got.to_dict()
        history = snapshot.history_status(b, ds)
    return {"seconds": pull_s, "push_s": round(push_s, 2), "snapshot_sign_s": round(sign_s, 2),
            "events_sent": pushed.sent, "events_received": got.received, "history": history}  # fmt: skip


@case("sync_local_relay")
def bench_sync_local_relay(n: int, work: Path) -> dict[str, Any]:
    """Push the whole history to nostr-sdk's LocalRelay, then a fresh store follows and pulls it (`seconds`)."""
    from tests.sync.relays import start_local_relay

    relay, url = start_local_relay()
    try:
        return _replicate(n, work, url, use_snapshot=False)
    finally:
        relay.shutdown()


@case("sync_nostr_relay")
def bench_sync_nostr_relay(n: int, work: Path) -> dict[str, Any]:
    """The same through the nostr-relay server (a separate process on SQLite)."""
    from tests.sync.relays import NostrRelayServer

    directory = work / f"nostr-relay-{n}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    server = NostrRelayServer(directory)
    server.start()
    try:
        return _replicate(n, work, server.url, use_snapshot=False)
    finally:
        server.stop()


@case("sync_snapshot_bootstrap")
def bench_sync_snapshot_bootstrap(n: int, work: Path) -> dict[str, Any]:
    """The owner signs a snapshot and pushes everything; a new follower bootstraps from it (`seconds`)."""
    from tests.sync.relays import start_local_relay

    relay, url = start_local_relay()
    try:
        return _replicate(n, work, url, use_snapshot=True)
    finally:
        relay.shutdown()

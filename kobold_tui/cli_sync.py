"""CLI commands for replication: relay, publish, follow, sync and member (tribe-read keys)."""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from typing import Any

from engine.identity import npub_to_hex, short_npub
from engine.store import Store
from kobold_tui import cli_output as co
from sync import replication, state, tribe
from sync.report import SyncReport
from sync.session import sync_once


def add_sync_commands(sub: Any, cmd: Any) -> None:
    p = sub.add_parser("relay", help="the Nostr relays this store replicates through")
    r_sub = p.add_subparsers(metavar="ACTION", required=True)
    p2 = cmd(r_sub, "add", cmd_relay_add, "add a relay (reads its NIP-11 limits)")
    p2.add_argument("url")
    p2 = cmd(r_sub, "remove", cmd_relay_remove, "stop using a relay")
    p2.add_argument("url")
    cmd(r_sub, "list", cmd_relay_list, "the configured relays and how the last sync went with each")

    p = cmd(
        sub, "publish", cmd_publish, "replicate a public or tribe dataset to the relays (never a private one)"
    )
    p.add_argument("dataset")
    p.add_argument(
        "--snapshot", action="store_true", help="also sign a snapshot new followers bootstrap from"
    )
    p = cmd(sub, "follow", cmd_follow, "subscribe to someone's dataset by its naddr (or id with --owner)")
    p.add_argument("address", help="naddr1… from `kobold dataset show`, or a dataset id")
    p.add_argument("--owner", help="the owner's npub, when ADDRESS is a dataset id")
    p.add_argument("--relay", action="append", default=[], metavar="URL", help="a relay to find it on")
    p = cmd(
        sub, "sync", cmd_sync, "push the outbox and pull followed datasets; keeps following unless --once"
    )
    p.add_argument("--once", action="store_true", help="one pass, print what moved, exit")
    p.add_argument(
        "--full-history", action="store_true",
        help="also fetch the history before the snapshot a dataset started from (with --once)",
    )  # fmt: skip
    p.add_argument("--interval", type=float, default=20.0, help="seconds between passes without live events")

    p = sub.add_parser("member", help="members of a tribe-read dataset (they receive its key)")
    m_sub = p.add_subparsers(metavar="ACTION", required=True)
    p2 = cmd(
        m_sub, "add", cmd_member_add, "give a member the dataset key (all epochs, so they read the history)"
    )
    p2.add_argument("dataset")
    p2.add_argument("npub")
    p2 = cmd(m_sub, "remove", cmd_member_remove, "remove a member and rotate the key for new changes")
    p2.add_argument("dataset")
    p2.add_argument("npub")
    p2 = cmd(m_sub, "list", cmd_member_list, "the dataset's members")
    p2.add_argument("dataset")


def cmd_relay_add(store: Store, args: argparse.Namespace) -> int:
    url, limits, note = replication.add_relay(store, args.url)
    data = {"url": url, "relays": store.config.relays, "max_limit": limits.max_limit,
            "max_message_length": limits.max_message_length, "note": note}  # fmt: skip
    if args.json:
        co.emit_json(data)
    else:
        told = (
            f"serves {limits.max_limit} events per request"
            if limits.limit_published
            else "publishes no limits"
        )
        co.out.print(f"added {url} ({told}); `kobold sync` uses it")
        if note:
            co.out.print(note)
    return 0


def cmd_relay_remove(store: Store, args: argparse.Namespace) -> int:
    replication.remove_relay(store, args.url)
    co.emit_json({"relays": store.config.relays}) if args.json else co.out.print(f"removed {args.url}")
    return 0


def cmd_relay_list(store: Store, args: argparse.Namespace) -> int:
    rows = replication.relays(store)
    if args.json:
        co.emit_json(rows)
    elif not rows:
        co.out.print("no relays; add one with `kobold relay add wss://…`")
    else:
        co.table(
            ["relay", "last ok", "last error"], [[r["url"], r["last_ok"], r["last_error"]] for r in rows]
        )
    return 0


def cmd_publish(store: Store, args: argparse.Namespace) -> int:
    result = replication.publish(store, store.dataset_id(args.dataset), with_snapshot=args.snapshot)
    if args.json:
        co.emit_json(result)
    else:
        co.pairs([(k, v if not isinstance(v, dict) else ", ".join(f"{a}={b}" for a, b in v.items()))
                  for k, v in result.items()])  # fmt: skip
    return 0


def cmd_follow(store: Store, args: argparse.Namespace) -> int:
    addr = replication.follow(store, args.address, args.owner, args.relay)
    data = {"dataset": addr.dataset_id, "owner": addr.owner, "relays": addr.relays}
    if args.json:
        co.emit_json(data)
    else:
        co.out.print(f"following {addr.dataset_id} by {short_npub(addr.owner)}; `kobold sync` fetches it")
    return 0


def cmd_sync(store: Store, args: argparse.Namespace) -> int:
    if args.once:
        report = asyncio.run(
            sync_once(store, progress=None if args.json else _say, full_history=args.full_history)
        )
        _print_report(report, args.json)
        return 0 if report.relays_ok or (not store.config.relays and not state.follows(store)) else 3
    from sync.worker import SyncStatus, SyncWorker

    def show(status: SyncStatus) -> None:
        if status.busy or worker.last_report is None:
            return
        if args.json:  # one line per pass (NDJSON), so a script can read them as they come
            print(json.dumps(worker.last_report.to_dict(), ensure_ascii=False), flush=True)
        else:
            _print_report(worker.last_report, False)

    worker = SyncWorker(store, show, interval=args.interval)
    worker.start()
    try:
        threading.Event().wait()  # until Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
    return 0


def _say(message: str) -> None:
    co.err.print(f"[dim]{message}[/]")


def _print_report(report: SyncReport, as_json: bool) -> None:
    data = report.to_dict()
    if as_json:
        co.emit_json(data)
        return
    for url, reason in report.relays_failed.items():
        co.err.print(f"[red]✗[/] {url}: {reason}")
    for r in report.refused:
        co.err.print(f"[yellow]![/] {r['relay']} refused {r['event'][:12]}: {r['reason']}")
    for e, reason in report.rejected:
        co.err.print(f"[red]✗[/] rejected {e[:12]}: {reason}")
    for note in report.notes:
        co.err.print(note)
    co.pairs([("sent", report.sent), ("received", report.received), ("duplicates", report.duplicates),
              ("rejected", len(report.rejected)), ("relays ok", len(report.relays_ok)),
              ("relays failed", len(report.relays_failed))])  # fmt: skip


def cmd_member_add(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    member = npub_to_hex(args.npub)
    grants = tribe.add_member(store, ds, member)
    data = {"dataset": ds, "member": member, "keys_granted": grants}
    if args.json:
        co.emit_json(data)
    else:
        co.out.print(
            f"{short_npub(member)} can read this dataset once `kobold sync` sends the key ({grants} epoch(s))"
        )
    return 0


def cmd_member_remove(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    member = npub_to_hex(args.npub)
    epoch = tribe.remove_member(store, ds, member)
    data = {"dataset": ds, "removed": member, "epoch": epoch}
    if args.json:
        co.emit_json(data)
    else:
        co.out.print(
            f"removed {short_npub(member)} and rotated the dataset key (epoch {epoch}): they keep what they "
            "could already read, but cannot read anything written from now on."
        )
    return 0


def cmd_member_list(store: Store, args: argparse.Namespace) -> int:
    rows = tribe.members(store, store.dataset_id(args.dataset))
    if args.json:
        co.emit_json(rows)
    else:
        co.table(["member", "added", "removed"], [[short_npub(str(r["pubkey"])), r["added_at"], r["removed_at"]]
                                                  for r in rows])  # fmt: skip
    return 0

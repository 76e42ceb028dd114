"""CLI commands for forks and merge proposals: fork, propose, proposals list/show/accept/reject, pull-upstream.

Thin: parse, call engine/forks.py, engine/proposals.py and engine/merge.py, print.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import forks, merge, proposals
from engine.errors import KoboldError
from engine.identity import short_npub
from engine.store import Store
from kobold_tui import cli_output as co

Cmd = Callable[..., argparse.ArgumentParser]


def add_merge_commands(sub: Any, cmd: Cmd) -> None:
    """Register the fork and merge commands on the top-level subparsers (called by cli.build_parser)."""
    p = cmd(
        sub, "fork", cmd_fork, "fork a dataset: a new writable dataset that starts from its current state"
    )
    p.add_argument("dataset")
    p.add_argument("--name", help="the fork's name (default: NAME (fork))")

    p = cmd(sub, "propose", cmd_propose, "sign a merge proposal offering a fork's changes to its upstream")
    p.add_argument("fork")
    p.add_argument("--title", default="")
    p.add_argument("--message", default="")
    p.add_argument(
        "--output", type=Path, help="also write a bundle file carrying the proposal and its events"
    )
    p.add_argument(
        "--include-private", action="store_true", help="write the bundle even if the fork is private"
    )

    p = cmd(sub, "pull-upstream", cmd_pull, "bring the upstream's newer changes into a fork")
    p.add_argument("fork")
    _choice_args(p)

    p = sub.add_parser("proposals", help="list, review, accept and reject merge proposals")
    pr = p.add_subparsers(metavar="ACTION", required=True)
    p2 = cmd(pr, "list", cmd_list, "proposals to or from a dataset (all without DS), with their status")
    p2.add_argument("dataset", nargs="?")
    p2 = cmd(pr, "show", cmd_show, "the three-way comparison of a proposal, per record and field")
    p2.add_argument("id")
    p2 = cmd(pr, "accept", cmd_accept, "accept a proposal, all of it or the parts you name")
    p2.add_argument("id")
    _choice_args(p2)
    p2 = cmd(pr, "reject", cmd_reject, "decline a proposal with a message")
    p2.add_argument("id")
    p2.add_argument("--message", default="")


def _choice_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", action="append", default=[], metavar="RECORD[.FIELD]",
                   help="accept only these records or fields (repeatable)")  # fmt: skip
    p.add_argument("--reject", action="append", default=[], metavar="RECORD[.FIELD]",
                   help="leave these records or fields out (repeatable)")  # fmt: skip
    p.add_argument("--resolve", action="append", default=[], metavar="RECORD.FIELD=upstream|fork",
                   help="settle a conflict by taking one side (FIELD @ is the record's existence)")  # fmt: skip
    p.add_argument("--set", action="append", default=[], metavar="RECORD.FIELD=VALUE",
                   help="settle a conflict with a value you type")  # fmt: skip
    p.add_argument("--prefer", choices=merge.SIDES, help="settle every conflict left open with this side")
    p.add_argument("--message", default="")


def choices_from_args(store: Store, review: merge.Review, args: argparse.Namespace) -> merge.Choices:
    """Turn --only/--reject/--resolve/--set into engine choices, resolving id prefixes and field names."""

    def record(ref: str) -> merge.RecordDiff:
        found = [r for r in review.records if r.record_id == ref] or [
            r for r in review.records if len(ref) >= 6 and r.record_id.startswith(ref)
        ]
        if len(found) != 1:
            what = "matches several changed records" if found else "is not a record this comparison changes"
            raise KoboldError(f"{ref!r} {what}; `kobold proposals show ID` lists them.")
        return found[0]

    def item(text: str) -> tuple[merge.RecordDiff | None, str, str | None]:
        rid, _, fname = text.partition(".")
        schema = next((s for s in review.schema if text in (s.name, s.resource, f"schema:{s.name}")), None)
        if schema is not None:
            return None, schema.resource, None
        r = record(rid)
        if not fname:
            return r, r.record_id, None
        if fname == merge.LIFE:
            return r, r.record_id, merge.LIFE
        key = next((f.key for f in r.fields if fname in (f.name, f.key)), None)
        if key is None:
            known = ", ".join(f.name for f in r.fields) or "none"
            raise KoboldError(f"Record {r.record_id} has no changed field {fname!r} (changed: {known}).")
        return r, r.record_id, key

    def key_of(text: str) -> str:
        _, rid, key = item(text)
        return f"{rid}.{key}" if key else rid

    choices = merge.Choices(prefer=args.prefer)
    if args.only:
        choices.only = {key_of(x) for x in args.only}
    for x in args.reject:
        r, rid, key = item(x)
        if r is None:
            choices.rejected_schema.add(rid)
        else:
            choices.rejected.add(f"{rid}.{key}" if key else rid)
    for x in args.resolve:
        target, _, side = x.partition("=")
        if side not in merge.SIDES:
            raise KoboldError(f"{x!r}: write RECORD.FIELD=upstream or RECORD.FIELD=fork.")
        r, rid, key = item(target)
        if r is None:
            choices.schema_resolutions[rid] = side
        elif key is None:
            raise KoboldError(f"{x!r}: name the field too, as RECORD.FIELD=upstream|fork.")
        else:
            choices.resolutions[f"{rid}.{key}"] = merge.Resolution(side)
    for x in args.set:
        target, _, text = x.partition("=")
        r, rid, key = item(target)
        if r is None or key is None or key == merge.LIFE:
            raise KoboldError(f"{x!r}: --set takes RECORD.FIELD=VALUE for one field.")
        choices.resolutions[f"{rid}.{key}"] = merge.Resolution(
            "value", merge.typed_value(store, review, r, key, text)
        )
    return choices


def cmd_fork(store: Store, args: argparse.Namespace) -> int:
    origin = store.dataset_id(args.dataset)
    fork = forks.fork_dataset(store, origin, args.name)
    from engine import datasets

    info = datasets.info(store, fork)
    if args.json:
        co.emit_json({"id": fork, "name": info.name, "origin": info.origin})
    else:
        co.out.print(f"{fork}  {info.name} (fork of {info.origin and info.origin.get('name')})")
    return 0


def cmd_propose(store: Store, args: argparse.Namespace) -> int:
    fork = store.dataset_id(args.fork)
    p = proposals.create(store, fork, args.title, args.message)
    result: dict[str, Any] = p.to_dict()
    if args.output:
        header = proposals.export_bundle(store, p.id, args.output, include_private=args.include_private)
        result["file"] = str(args.output)
        result["bundle_events"] = header["events"]
    if args.json:
        co.emit_json(result)
    else:
        co.out.print(
            f"proposal {p.id[:12]}: {p.title!r}, {len(p.events)} event(s) offered to {p.upstream[:12]}"
        )
        if args.output:
            co.out.print(f"wrote {args.output}; on the upstream's store: kobold bundle import {args.output}")
    return 0


def cmd_list(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset) if args.dataset else None
    items = proposals.listing(store, ds)
    if args.json:
        co.emit_json(items)
    elif not items:
        co.out.print("No merge proposals here. A fork's author sends one with `kobold propose FORK`.")
    else:
        co.table(
            ["id", "status", "title", "from fork", "to", "author", "events"],
            [[i["id"][:12], i["status"] + (f" ({i['missing']} missing)" if i.get("missing") else ""), i["title"],
              i["fork_name"], i["upstream_name"], short_npub(i["author"]), i["events"]] for i in items],
        )  # fmt: skip
    return 0


def cmd_show(store: Store, args: argparse.Namespace) -> int:
    p = proposals.get(store, args.id)
    state = proposals.status(store, p)
    data: dict[str, Any] = {"proposal": p.to_dict(), **state}
    if state["status"] == "open":
        review = merge.review_proposal(store, p.id)
        data["review"] = review.to_dict()
    else:
        data["outcome"] = merge.proposal_outcome(store, p)
    if args.json:
        co.emit_json(data)
        return 0
    co.pairs([("proposal", p.id), ("title", p.title), ("message", p.message), ("author", short_npub(p.author)),
              ("status", state["status"])])  # fmt: skip
    if state["status"] != "open":
        co.pairs([("decided by", short_npub(state["decided_by"])), ("message", state["message"]),
                  ("records taken", len(data["outcome"]["records"]))])  # fmt: skip
        return 0
    print_review(data["review"])
    return 0


def print_review(review: dict[str, Any]) -> None:
    counts = review["counts"]
    co.out.print(", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no differences")
    for s in review["schema"]:
        co.out.print(f"[magenta]{s['kind']}[/] {s['resource']}: {'; '.join(s['changes'])}")
    rows = []
    for r in review["records"]:
        if not r["fields"]:
            rows.append([r["kind"], r["resource"], r["record"][:12], "(record)", "", "", "", r["life_author"] and short_npub(r["life_author"])])  # fmt: skip
        for f in r["fields"]:
            rows.append([f["kind"] if r["kind"] == "changed" else r["kind"], r["resource"], r["record"][:12], f["field"],
                         f["base"], f["upstream"], f["fork"], f["author"] and short_npub(f["author"])])  # fmt: skip
    co.table(["change", "resource", "record", "field", "base", "upstream", "fork", "by"], rows)


def _print_result(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.json:
        co.emit_json(result)
        return
    if result["status"] == "up to date":
        co.out.print("The fork already has every upstream change.")
        return
    co.out.print(
        f"{result['status']}: {result['records']} record(s), {result['fields']} field(s) taken"
        + (
            f", {result['rejected_records']} record(s) and {result['rejected_fields']} field(s) left out"
            if result["rejected_records"] or result["rejected_fields"]
            else ""
        )
        + f"; decision {result['decision'][:12]}"
    )


def cmd_accept(store: Store, args: argparse.Namespace) -> int:
    review = merge.review_proposal(store, args.id)
    assert review.proposal is not None
    choices = choices_from_args(store, review, args)
    _print_result(args, merge.accept(store, review.proposal.id, choices, args.message, review))
    return 0


def cmd_reject(store: Store, args: argparse.Namespace) -> int:
    result = merge.reject(store, args.id, args.message)
    co.emit_json(result) if args.json else co.out.print(f"rejected; decision {result['decision'][:12]}")
    return 0


def cmd_pull(store: Store, args: argparse.Namespace) -> int:
    review = merge.review_pull(store, args.fork)
    choices = choices_from_args(store, review, args)
    _print_result(args, merge.pull(store, review.fork, choices, args.message))
    return 0


def lineage_lines(lineage: dict[str, Any]) -> list[tuple[str, Any]]:
    """`dataset show`'s lineage: origin and fork point, forks, merges recorded in the log."""
    out: list[tuple[str, Any]] = []
    if lineage.get("origin"):
        out.append(("fork of", f"{lineage.get('origin_name') or ''} ({lineage['origin'][:12]})"))
        out.append(("fork point", ", ".join(h[:12] for h in lineage.get("fork_point", []))))
    if lineage.get("forks"):
        out.append(("forks", ", ".join(f["name"] for f in lineage["forks"])))
    for m in lineage.get("merges", []):
        what = "pulled upstream" if m["direction"] == "pull" else f"merge from {str(m['fork'])[:12]}"
        out.append(("merge", f"{what}: {m['status']} by {short_npub(m['by'])} ({m['decision'][:12]})"))
    return out

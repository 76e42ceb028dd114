"""The `kobold` command: every engine operation for scripts and SSH, `--json` on everything that prints data.

With no command it opens the TUI. Commands hold no business logic: they parse, call the engine, print.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from engine import (
    csv_import,
    datasets,
    demo,
    export,
    forks,
    formula_test,
    history,
    maintenance,
    query,
    records,
    snapshot,
    state_hash,
)
from engine.errors import KoboldError
from engine.identity import import_key, load_or_create
from engine.paths import resolve_home
from engine.protocol import VISIBILITIES
from engine.schema import describe_change, load_definitions
from engine.store import Store
from kobold_tui import cli_merge
from kobold_tui import cli_output as co
from kobold_tui.cli_keys import add_key_commands, unlock_session
from kobold_tui.cli_merge import add_merge_commands
from kobold_tui.cli_roles import add_role_commands
from kobold_tui.cli_sync import add_sync_commands
from sync import replication

Handler = Callable[[Store, argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_join_sort_values(list(sys.argv[1:] if argv is None else argv)))
    args.home = args.home or args.home_first
    try:
        unlock_session(args.home)  # a protected key: ask once, before the store opens or the TUI starts
    except KoboldError as exc:
        return co.fail(str(exc))
    if not getattr(args, "handler", None):
        return open_tui(args)
    try:
        if getattr(args, "no_store", False):
            return int(args.handler(None, args))
        with Store.open(args.home) as store:
            return int(args.handler(store, args))
    except KoboldError as exc:
        return co.fail(str(exc))
    except KeyboardInterrupt:
        return co.fail("Interrupted; nothing half-written was kept.", 130)


def _join_sort_values(argv: list[str]) -> list[str]:
    """Let `--sort -field` mean descending: argparse would read `-field` as an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "--sort" and i + 1 < len(argv) and argv[i + 1].startswith("-") and argv[i + 1] != "--":
            out.append(f"--sort={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def open_tui(args: argparse.Namespace) -> int:
    try:
        from kobold_tui.app import run_app
    except ImportError:
        co.out.print("The full-screen app is not built yet. Commands:")
        build_parser().print_help()
        return 0
    try:
        return int(run_app(args.home))
    except KoboldError as exc:
        return co.fail(str(exc))


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home",
        default=argparse.SUPPRESS,
        help="store directory (default: $KOBOLD_HOME or the user data dir)",
    )
    parser = argparse.ArgumentParser(
        prog="kobold", description="Kobold: a terminal spreadsheet for communities that share structured data.",
    )  # fmt: skip
    # A subcommand's namespace replaces values set before it, so `kobold --home X cmd` needs its own dest.
    parser.add_argument(
        "--home",
        dest="home_first",
        default=None,
        help="store directory (default: $KOBOLD_HOME or the user data dir)",
    )
    parser.set_defaults(home=None, handler=None)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def cmd(
        parent: Any, name: str, handler: Handler, help_text: str, json_flag: bool = True
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(
            name, help=help_text, description=help_text, parents=[common]
        )
        p.set_defaults(handler=handler)
        if json_flag:
            p.add_argument("--json", action="store_true", help="print JSON for scripts")
        return p

    p = cmd(sub, "id", cmd_id, "show this store's identity (npub and hex)")
    id_sub = p.add_subparsers(metavar="ACTION")
    p2 = cmd(id_sub, "import", cmd_id_import, "adopt an existing secret key (nsec or hex)")
    p2.add_argument("nsec")
    p2.add_argument("--force", action="store_true", help="replace a different existing key")
    p2 = cmd(
        id_sub, "name", cmd_id_name, "set the name other stores show for you (a Nostr profile, sent on sync)"
    )
    p2.add_argument("name")
    p2 = cmd(id_sub, "export", cmd_id_export, "print the secret key (nsec)")
    p2.add_argument("--yes", action="store_true", help="confirm that you want the secret printed")
    add_key_commands(id_sub, cmd)

    cmd(sub, "demo", cmd_demo, "create the demo seed catalog if absent and print its id")

    p = sub.add_parser("dataset", help="create, list and describe datasets")
    ds_sub = p.add_subparsers(metavar="ACTION", required=True)
    p2 = cmd(ds_sub, "create", cmd_dataset_create, "create a dataset")
    p2.add_argument("name")
    p2.add_argument("--type", default="org.tribes.kobold.dataset")
    p2.add_argument("--visibility", choices=VISIBILITIES, default="private")
    p2.add_argument("--description", default="")
    cmd(ds_sub, "list", cmd_dataset_list, "list the datasets in this store")
    p2 = cmd(ds_sub, "show", cmd_dataset_show, "describe a dataset: heads, events, records, state hash")
    p2.add_argument("dataset")
    p2 = cmd(ds_sub, "update", cmd_dataset_update, "rename a dataset or change its description or visibility")
    p2.add_argument("dataset")
    p2.add_argument("--name")
    p2.add_argument("--description")
    p2.add_argument("--visibility", choices=VISIBILITIES)

    p = sub.add_parser("schema", help="apply and show resource definitions")
    sc_sub = p.add_subparsers(metavar="ACTION", required=True)
    p2 = cmd(sc_sub, "apply", cmd_schema_apply, "create or migrate resources from a YAML or JSON file")
    p2.add_argument("dataset")
    p2.add_argument("file", type=Path)
    p2 = cmd(sc_sub, "show", cmd_schema_show, "show the resources and fields of a dataset")
    p2.add_argument("dataset")

    p = sub.add_parser("record", help="add, change, delete, list and inspect records")
    rec = p.add_subparsers(metavar="ACTION", required=True)
    p2 = cmd(rec, "add", cmd_record_add, "add a record: FIELD=VALUE ...")
    p2.add_argument("dataset")
    p2.add_argument("resource")
    p2.add_argument("values", nargs="*", metavar="FIELD=VALUE")
    p2 = cmd(rec, "update", cmd_record_update, "change fields of a record (FIELD= clears a field)")
    p2.add_argument("dataset")
    p2.add_argument("resource")
    p2.add_argument("id")
    p2.add_argument("values", nargs="+", metavar="FIELD=VALUE")
    p2 = cmd(rec, "delete", cmd_record_delete, "delete records (a tombstone; history keeps them)")
    p2.add_argument("dataset")
    p2.add_argument("resource")
    p2.add_argument("ids", nargs="+", metavar="ID")
    p2 = cmd(rec, "list", cmd_record_list, "list records with filters, search, sort and paging")
    p2.add_argument("dataset")
    p2.add_argument("resource")
    p2.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="COND",
        help="FIELD=V, FIELD!=V, FIELD<V, FIELD>V, FIELD~TEXT, FIELD= (empty)",
    )
    p2.add_argument("--search", help="text to find in any field")
    p2.add_argument(
        "--sort",
        action="append",
        default=[],
        metavar="[-]FIELD",
        help="sort by FIELD (prefix - for descending)",
    )
    p2.add_argument("--limit", type=int, default=50)
    p2.add_argument("--offset", type=int, default=0)
    p2 = cmd(rec, "show", cmd_record_show, "show one record with who last set each field")
    p2.add_argument("dataset")
    p2.add_argument("resource")
    p2.add_argument("id")
    p2 = cmd(
        rec, "history", cmd_record_history, "every change to a record: author, time, old → new, verified"
    )
    p2.add_argument("dataset")
    p2.add_argument("resource")
    p2.add_argument("id")

    p = sub.add_parser("formula", help="try formulas against records")
    fo_sub = p.add_subparsers(metavar="ACTION", required=True)
    p2 = cmd(
        fo_sub,
        "test",
        cmd_formula_test,
        "evaluate a computed field or validation and print results or errors",
    )
    p2.add_argument("dataset")
    p2.add_argument("resource")
    p2.add_argument("field", help="a computed field, a validation name, or a field with `validate`")
    p2.add_argument("--record", help="one record id (default: the first --limit records)")
    p2.add_argument("--limit", type=int, default=20)

    p = cmd(sub, "import", cmd_import, "import a CSV file as new records (all or nothing)")
    p.add_argument("dataset")
    p.add_argument("resource")
    p.add_argument("file", type=Path)
    p = cmd(sub, "export", cmd_export, "export a resource as CSV or JSON", json_flag=False)
    p.add_argument("dataset")
    p.add_argument("resource")
    p.add_argument("--format", choices=export.FORMATS, default="csv")
    p.add_argument("--output", type=Path, help="file to write (default: standard output)")
    p = cmd(sub, "log", cmd_log, "the dataset's events, newest first")
    p.add_argument("dataset")
    p.add_argument("--limit", type=int)
    p.add_argument(
        "--rejected", action="store_true", help="the events refused on arrival, with their reasons"
    )
    p = sub.add_parser("bundle", help="carry a dataset to another store in one file (USB stick, e-mail)")
    bu_sub = p.add_subparsers(metavar="ACTION", required=True)
    p2 = cmd(bu_sub, "export", cmd_bundle_export, "write a dataset's signed events to a bundle file")
    p2.add_argument("dataset")
    p2.add_argument("--output", type=Path, required=True, help="the bundle file to write")
    p2.add_argument("--snapshot", action="store_true", help="a signed snapshot plus the events after it")
    p2.add_argument(
        "--include-private",
        action="store_true",
        help="export a private dataset anyway (it leaves this store)",
    )
    p2 = cmd(bu_sub, "import", cmd_bundle_import, "verify and apply every event of a bundle file")
    p2.add_argument("file", type=Path)
    add_sync_commands(sub, cmd)
    add_role_commands(sub, cmd)
    add_merge_commands(sub, cmd)
    p = cmd(sub, "verify", cmd_verify, "re-check every stored event and print the state hash")
    p.add_argument("dataset")
    p = cmd(sub, "rebuild", cmd_rebuild, "drop and re-derive the projections; prints the state hash")
    p.add_argument("dataset")
    p.add_argument(
        "--full", action="store_true", help="also re-extract record operations from the raw events"
    )
    return parser


def parse_values(items: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise KoboldError(f"{item!r} is not FIELD=VALUE; write e.g. species='Solanum lycopersicum'.")
        name, value = item.split("=", 1)
        values[name.strip()] = value
    return values


def cmd_id(store: Store, args: argparse.Namespace) -> int:
    ident = store.identity
    if args.json:
        co.emit_json({"npub": ident.npub, "hex": ident.pubkey})
    else:
        co.pairs([("npub", ident.npub), ("hex", ident.pubkey)])
    return 0


def cmd_id_import(store: Store, args: argparse.Namespace) -> int:
    from engine import key_protection

    was_protected = key_protection.is_protected(store.home)
    ident = import_key(store.home, args.nsec, force=args.force)
    unprotected = was_protected and not key_protection.is_protected(store.home)
    note = (
        "The new key is stored without a passphrase; run `kobold id protect` to add one."
        if unprotected
        else None
    )
    store.identity = ident
    if args.json:
        co.emit_json({"npub": ident.npub, "hex": ident.pubkey, "note": note})
    else:
        co.out.print(f"This store now signs as {ident.npub}")
        if note:
            co.err.print(f"[yellow]{note}[/]")
    return 0


def cmd_id_name(store: Store, args: argparse.Namespace) -> int:
    from sync import profile

    ev = profile.set_name(store, args.name)
    name = json.loads(ev.content)["name"]
    if args.json:
        co.emit_json({"npub": store.identity.npub, "name": name, "event": ev.id})
    else:
        co.out.print(f"You are {name} ({store.identity.npub}); relays get it on the next `kobold sync`.")
    return 0


def cmd_id_export(store: Store, args: argparse.Namespace) -> int:
    if not args.yes:
        return co.fail(
            "This prints your secret key; anyone who sees it can sign as you. Add --yes if you mean it."
        )
    ident = load_or_create(store.home)
    co.emit_json({"nsec": ident.nsec}) if args.json else co.out.print(ident.nsec)
    return 0


def cmd_demo(store: Store, args: argparse.Namespace) -> int:
    ds = demo.create_demo(store)
    co.emit_json({"id": ds}) if args.json else co.out.print(ds)
    return 0


def cmd_dataset_create(store: Store, args: argparse.Namespace) -> int:
    ds = datasets.create_dataset(store, args.name, args.type, args.visibility, args.description)
    co.emit_json({"id": ds}) if args.json else co.out.print(ds)
    return 0


def cmd_dataset_list(store: Store, args: argparse.Namespace) -> int:
    items: list[dict[str, Any]] = []
    for d in datasets.list_datasets(store):
        counts = {
            r.name: query.count(store, d.id, query.Query(r.key)) for r in datasets.resources(store, d.id)
        }
        items.append({"id": d.id, "name": d.name, "type": d.type, "visibility": d.visibility, "owner": d.owner,
                      "records": counts, "origin": d.origin})  # fmt: skip
    if args.json:
        co.emit_json(items)
    elif not items:
        co.out.print(
            "No datasets yet. `kobold demo` creates a sample seed catalog; `kobold dataset create NAME` starts one."
        )
    else:
        co.table(
            ["id", "name", "type", "visibility", "records"],
            [
                [i["id"][:12], i["name"], i["type"], i["visibility"], sum(i["records"].values())]
                for i in items
            ],
        )
    return 0


def dataset_summary(store: Store, ds: str) -> dict[str, Any]:
    d = datasets.info(store, ds)
    heads = [
        r[0]
        for r in store.con.execute(
            "SELECT event_id FROM heads WHERE dataset_id = ? ORDER BY event_id", [ds]
        ).fetchall()
    ]
    counts = datasets.event_counts(store, ds)
    return {
        "id": d.id, "name": d.name, "type": d.type, "visibility": d.visibility, "owner": d.owner,
        "description": d.description, "created_at": d.created_at, "origin": d.origin, "heads": heads,
        "events": sum(counts.values()), "events_by_type": counts,
        "records": {r.name: query.count(store, ds, query.Query(r.key)) for r in datasets.resources(store, ds)},
        "state_hash": state_hash.state_hash(store, ds), "history": snapshot.history_status(store, ds),
        "address": replication.share_address(store, ds), "lineage": forks.lineage(store, ds),
    }  # fmt: skip


def cmd_dataset_show(store: Store, args: argparse.Namespace) -> int:
    summary = dataset_summary(store, store.dataset_id(args.dataset))
    if args.json:
        co.emit_json(summary)
        return 0
    co.pairs(
        [(k, v) for k, v in summary.items() if k not in ("records", "events_by_type", "heads", "lineage")]
    )
    co.pairs([("heads", ", ".join(h[:12] for h in summary["heads"]))])
    co.pairs(cli_merge.lineage_lines(summary["lineage"]))
    co.table(["resource", "records"], list(summary["records"].items()))
    return 0


def cmd_dataset_update(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    changes = {
        k: getattr(args, k) for k in ("name", "description", "visibility") if getattr(args, k) is not None
    }
    if not changes:
        return co.fail("Nothing to change; give --name, --description or --visibility.")
    datasets.update_manifest(store, ds, **changes)
    co.emit_json(dataset_summary(store, ds)) if args.json else co.out.print("updated")
    return 0


def cmd_schema_apply(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    applied = datasets.apply_schema(store, ds, load_definitions(args.file))
    if args.json:
        co.emit_json({"applied": applied})
    elif not applied:
        co.out.print("The schema already matches; nothing changed.")
    else:
        for item in applied:
            changes = ", ".join(describe_change(c) for c in item["changes"])
            co.out.print(f"{item['resource']}: {changes}")
    return 0


def cmd_schema_show(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    resources = datasets.resources(store, ds)
    if args.json:
        co.emit_json([r.definition for r in resources])
        return 0
    for r in resources:
        rows = []
        for f in r.fields:
            detail = (
                f.get("target")
                or ", ".join(f.get("choices", []))
                or (f"scale {f['scale']}" if "scale" in f else "")
            )
            flags = " ".join(x for x, on in (("required", f["required"]), ("unique", f["unique"])) if on)
            rows.append([f["name"], f["type"], detail, flags, f.get("default", ""), f["description"]])
        rows += [
            [c["name"], f"computed {c['type']}", c["formula"], "", "", c["description"]] for c in r.computed
        ]
        co.table(["field", "type", "detail", "flags", "default", "description"], rows, title=r.name)
    return 0


def cmd_record_add(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    rid = records.create_record(store, ds, args.resource, parse_values(args.values), from_text=True)
    co.emit_json({"id": rid}) if args.json else co.out.print(rid)
    return 0


def cmd_record_update(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    ev = records.update_record(store, ds, args.resource, args.id, parse_values(args.values), from_text=True)
    co.emit_json({"event": ev.id}) if args.json else co.out.print(f"updated in event {ev.id[:12]}")
    return 0


def cmd_record_delete(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    ev = records.delete_records(store, ds, args.resource, args.ids)
    co.emit_json({"event": ev.id, "deleted": len(args.ids)}) if args.json else co.out.print(
        f"deleted {len(args.ids)}"
    )
    return 0


def cmd_record_list(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    q = query.Query(
        args.resource,
        tuple(query.parse_condition(c) for c in args.filter),
        args.search,
        tuple(query.parse_sort(s) for s in args.sort),
    )
    page = query.page(store, ds, q, args.offset, args.limit)
    if args.json:
        co.emit_json(
            {"total": page.total, "matched": page.matched, "offset": page.offset, "records": page.as_dicts()}
        )
        return 0
    co.table(page.columns, [[str(r[0])[:12], *r[1:]] for r in page.rows])
    co.err.print(
        f"rows {page.offset + 1 if page.rows else 0}–{page.offset + len(page.rows)} of {page.matched} (of {page.total})"
    )
    return 0


def cmd_record_show(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    rec = records.get_record(store, ds, args.resource, args.id)
    blame = history.blame(store, ds, args.resource, rec["_id"])
    extra = records.derived(store, ds, args.resource, rec["_id"])
    if args.json:
        co.emit_json({"record": rec, "blame": blame, **extra})
        return 0
    if extra["invalid"]:
        co.err.print(f"[yellow]invalid:[/] {extra['invalid']}")
    rec.update({k: extra["errors"].get(k) or v for k, v in extra["computed"].items()})
    co.table(
        ["field", "value", "last set by", "event"],
        [[k, v, blame[k]["author_name"] if k in blame else "", blame.get(k, {}).get("event", "")[:12]]
         for k, v in rec.items()],
    )  # fmt: skip
    return 0


def cmd_record_history(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    rid = records.get_record(store, ds, args.resource, args.id)["_id"] if args.id else args.id
    entries = history.history(store, ds, args.resource, rid)
    if args.json:
        co.emit_json([e.to_dict() for e in entries])
        return 0
    rows = []
    for e in entries:
        d = e.to_dict()
        changes = "; ".join(f"{k}: {co.cell(o)} → {co.cell(n)}" for k, (o, n) in e.changes.items())
        rows.append([_when(e.created_at), d["author_short"], e.op, changes, "✓" if e.verified else "✗"])
    co.table(["when", "author", "op", "changes", "sig"], rows)
    return 0


def _when(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M")


def cmd_formula_test(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    results = formula_test.run(store, ds, args.resource, args.field, args.record, args.limit)
    if args.json:
        co.emit_json(results)
    else:
        co.table(
            ["record", "result"], [[r["record"][:12], r.get("error") or co.cell(r["value"])] for r in results]
        )
    return 0


def cmd_import(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    with co.progress_bar(not args.json) as progress:
        n = csv_import.import_csv(store, ds, args.resource, args.file, progress)
    co.emit_json({"imported": n}) if args.json else co.out.print(f"imported {n} records")
    return 0


def cmd_export(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    if args.output:
        n = export.export(store, ds, args.resource, args.format, args.output)
        co.err.print(f"wrote {n} records to {args.output}")
        return 0
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"export.{args.format}"
        export.export(store, ds, args.resource, args.format, path)
        sys.stdout.write(path.read_text())
    return 0


def cmd_log(store: Store, args: argparse.Namespace) -> int:
    if args.rejected:
        return _log_rejected(store, args)
    entries = maintenance.log(store, store.dataset_id(args.dataset), args.limit)
    if args.json:
        co.emit_json(entries)
        return 0
    co.table(
        ["when", "type", "author", "summary", "event", "sig"],
        [
            [_when(e["created_at"]), e["type"], e["author_short"], e["summary"], e["id"][:12], e["verified"]]
            for e in entries
        ],
    )
    return 0


def _log_rejected(store: Store, args: argparse.Namespace) -> int:
    from engine import ingest

    entries = ingest.rejected(store, store.dataset_id(args.dataset), args.limit)
    if args.json:
        co.emit_json(entries)
        return 0
    co.table(
        ["received", "event", "reason"], [[e["received_at"], e["event"][:12], e["reason"]] for e in entries]
    )
    return 0


def cmd_bundle_export(store: Store, args: argparse.Namespace) -> int:
    from sync import bundle

    ds = store.dataset_id(args.dataset)
    with co.progress_bar(not args.json) as progress:
        header = bundle.export_bundle(
            store, ds, args.output, use_snapshot=args.snapshot, include_private=args.include_private,
            progress=progress,
        )  # fmt: skip
    result = {**header, "file": str(args.output), "bytes": args.output.stat().st_size}
    if args.json:
        co.emit_json(result)
    else:
        co.out.print(f"wrote {header['events']} events of {header['name']} to {args.output}")
    return 0


def cmd_bundle_import(store: Store, args: argparse.Namespace) -> int:
    from sync import bundle

    with co.progress_bar(not args.json) as progress:
        result = bundle.import_bundle(store, args.file, progress)
    data = result.to_dict()
    if args.json:
        co.emit_json(data)
    else:
        for r in data["rejected"]:
            co.err.print(f"[red]✗[/] {r['event'][:12]} {r['reason']}")
        co.pairs(
            [
                (k, data[k])
                for k in ("name", "dataset", "applied", "duplicates", "pending", "history", "state_hash")
            ]
        )
    return 0


def cmd_verify(store: Store, args: argparse.Namespace) -> int:
    report = maintenance.verify(store, store.dataset_id(args.dataset))
    if args.json:
        co.emit_json(report.to_dict())
    else:
        for p in report.problems:
            co.err.print(f"[red]✗[/] {p['event'][:12]} {p['reason']}")
        co.pairs([("ok", report.ok), ("events", report.events), ("state_hash", report.state_hash)])
    return 0 if report.ok else 2


def cmd_rebuild(store: Store, args: argparse.Namespace) -> int:
    value = maintenance.rebuild(store, store.dataset_id(args.dataset), full=args.full)
    co.emit_json({"state_hash": value}) if args.json else co.pairs([("state_hash", value)])
    return 0


def home_of(args: argparse.Namespace) -> Path:
    return resolve_home(args.home)


if __name__ == "__main__":
    sys.exit(main())

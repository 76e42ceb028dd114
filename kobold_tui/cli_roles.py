"""`kobold role grant|revoke|list` and `kobold tribe add|list|remove`: thin calls into engine/roles.py and
engine/names.py."""

from __future__ import annotations

import argparse
from typing import Any

from engine import names, roles
from engine.errors import KoboldError
from engine.store import Store
from kobold_tui import cli_output as co


def add_role_commands(sub: Any, cmd: Any) -> None:
    p = sub.add_parser("role", help="who may write a dataset: owner, maintainer, contributor")
    ro = p.add_subparsers(metavar="ACTION", required=True)
    p2 = cmd(ro, "grant", cmd_role_grant, "grant a role: DS NPUB ROLE, or DS --tribe NAME ROLE")
    p2.add_argument("dataset")
    p2.add_argument(
        "who_and_role", nargs="+", metavar="[NPUB] ROLE", help="an npub, hex key or petname, then the role"
    )
    p2.add_argument(
        "--resource", action="append", default=[], metavar="R", help="contributor only for resource R"
    )
    p2.add_argument("--tribe", help="grant the role to every member of this saved tribe")
    p2 = cmd(ro, "revoke", cmd_role_revoke, "take every role from a member of the dataset")
    p2.add_argument("dataset")
    p2.add_argument("who", metavar="NPUB")
    p2 = cmd(ro, "list", cmd_role_list, "who holds which role in a dataset")
    p2.add_argument("dataset")

    p = sub.add_parser("tribe", help="named sets of people (public keys with petnames), kept in this store")
    tr = p.add_subparsers(metavar="ACTION", required=True)
    p2 = cmd(tr, "add", cmd_tribe_add, "add someone to a tribe (created on first use) with a petname")
    p2.add_argument("tribe")
    p2.add_argument("npub")
    p2.add_argument("--petname", required=True, help="the name shown instead of their npub")
    cmd(tr, "list", cmd_tribe_list, "the saved tribes and their members")
    p2 = cmd(tr, "remove", cmd_tribe_remove, "remove someone from a tribe, or the whole tribe")
    p2.add_argument("tribe")
    p2.add_argument("npub", nargs="?", help="the member to remove (default: the whole tribe)")


def cmd_role_grant(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    *who, role = args.who_and_role
    if args.tribe and who:
        raise KoboldError("Give either an npub or --tribe NAME, not both.")
    if len(who) > 1 or not (who or args.tribe):
        raise KoboldError(
            "Say whom and which role: `kobold role grant DS NPUB contributor` or `--tribe NAME contributor`."
        )
    if args.tribe:
        pubkeys = [m["pubkey"] for m in names.tribe_members(store, args.tribe)]
    else:
        pubkeys = [names.resolve(store, who[0])]
    ev = roles.grant(store, ds, pubkeys, role, args.resource)
    if args.json:
        co.emit_json({"event": ev.id, "members": roles.members(store, ds)})
    else:
        shown = ", ".join(names.display_names(store, pubkeys).values())
        scope = f" for {', '.join(args.resource)}" if args.resource else ""
        extra = " (you stay on as maintainer)" if role == roles.OWNER else ""
        co.out.print(f"{shown}: {role}{scope}{extra}")
    return 0


def cmd_role_revoke(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    pubkey = names.resolve(store, args.who)
    ev = roles.revoke(store, ds, pubkey)
    if args.json:
        co.emit_json({"event": ev.id, "members": roles.members(store, ds)})
    else:
        co.out.print(f"{names.display_name(store, pubkey)} no longer holds a role in this dataset")
    return 0


def cmd_role_list(store: Store, args: argparse.Namespace) -> int:
    ds = store.dataset_id(args.dataset)
    items = roles.members(store, ds)
    if args.json:
        co.emit_json(items)
        return 0
    co.table(
        ["name", "role", "resources", "npub"],
        [
            [m["name"], m["role"], ", ".join(m["resources"]) if m["resources"] else "all", m["npub"]]
            for m in items
        ],
    )
    return 0


def cmd_tribe_add(store: Store, args: argparse.Namespace) -> int:
    pubkey = names.add_to_tribe(store, args.tribe, args.npub, args.petname)
    if args.json:
        co.emit_json({"tribe": args.tribe, "pubkey": pubkey, "petname": args.petname})
    else:
        co.out.print(f"{args.petname} is in the tribe {args.tribe}")
    return 0


def cmd_tribe_list(store: Store, args: argparse.Namespace) -> int:
    items = names.tribes(store)
    if args.json:
        co.emit_json(items)
    elif not items:
        co.out.print("No tribes yet; `kobold tribe add NAME NPUB --petname P` starts one.")
    else:
        co.table(
            ["tribe", "petname", "npub"],
            [[t["tribe"], m["petname"], m["npub"]] for t in items for m in t["members"]],
        )
    return 0


def cmd_tribe_remove(store: Store, args: argparse.Namespace) -> int:
    n = names.remove_from_tribe(store, args.tribe, args.npub)
    co.emit_json({"removed": n}) if args.json else co.out.print(f"removed {n} from {args.tribe}")
    return 0

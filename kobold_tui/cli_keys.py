"""`kobold id protect` / `id unprotect`, and unlocking a protected key once per session before the store opens."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from engine import key_protection
from engine.errors import IdentityError
from engine.paths import resolve_home
from engine.store import Store
from kobold_tui import cli_output as co


def unlock_session(home: str | None) -> None:
    """Before the store opens (CLI command or TUI): warn about a readable key file, ask for the passphrase."""
    path = resolve_home(home)
    warning = key_protection.permission_warning(path)
    if warning and key_protection.is_protected(path):
        co.err.print(f"[yellow]{warning}[/]", soft_wrap=True)
    key_protection.unlock(path, _ask, lambda text: co.err.print(f"[red]{text}[/]"))


def _ask(prompt: str) -> str:
    if not sys.stdin.isatty():
        raise IdentityError(
            f"The secret key is protected by a passphrase and there is no terminal to ask in; "
            f"set {key_protection.ENV}."
        )
    return getpass.getpass(prompt)


def add_key_commands(id_sub: Any, cmd: Any) -> None:
    p = cmd(id_sub, "protect", cmd_id_protect, "protect the secret key file with a passphrase (NIP-49)")
    p.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="read the new passphrase from this environment variable instead of asking (scripts)",
    )
    cmd(
        id_sub,
        "unprotect",
        cmd_id_unprotect,
        "remove the passphrase: the key file holds the plain nsec again",
    )


def cmd_id_protect(store: Store, args: argparse.Namespace) -> int:
    if args.passphrase_env:
        passphrase = os.environ.get(args.passphrase_env, "")
        if not passphrase:
            return co.fail(f"The environment variable {args.passphrase_env} is empty or not set.")
    else:
        if not sys.stdin.isatty():
            return co.fail("There is no terminal to ask for a passphrase in; use --passphrase-env VAR.")
        passphrase = getpass.getpass("New passphrase: ")
        if getpass.getpass("The same passphrase again: ") != passphrase:
            return co.fail("The two passphrases differ; nothing changed.")
    key_protection.protect(store.home, store.identity, passphrase)
    if args.json:
        co.emit_json({"protected": True, "npub": store.identity.npub})
    else:
        co.out.print(
            f"The key of {store.identity.npub} is now protected; kobold asks for the passphrase once per session "
            f"({key_protection.ENV} serves scripts)."
        )
    return 0


def cmd_id_unprotect(store: Store, args: argparse.Namespace) -> int:
    key_protection.unprotect(store.home, store.identity)
    co.emit_json({"protected": False}) if args.json else co.out.print(
        "The key file holds the plain nsec again."
    )
    return 0

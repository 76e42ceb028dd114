"""A passphrase on the secret key file (NIP-49 `ncryptsec1…`, through nostr-sdk's EncryptedSecretKey).

Once protected, the key is decrypted once per process (a session): the CLI asks before it opens the store (and
before the TUI starts), `KOBOLD_PASSPHRASE` serves scripts; the decrypted identity is kept in memory only.
Plaintext key files readable by others are refused (engine/identity.py); a protected file readable by others
only earns a warning (`permission_warning`), since the passphrase still guards it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from nostr_sdk import EncryptedSecretKey, KeySecurity, SecretKey

from engine.errors import IdentityError
from engine.identity import Identity, key_path

PREFIX = "ncryptsec1"
ENV = "KOBOLD_PASSPHRASE"
TRIES = 3
LOG_N = 16  # scrypt cost: about a third of a second here, as NIP-49 suggests for interactive use

_session: dict[tuple[str, str], Identity] = {}  # (key file, its ncryptsec text) -> the decrypted identity


class WrongPassphrase(IdentityError):
    """A passphrase that does not decrypt the key."""


def is_protected(home: Path) -> bool:
    path = key_path(home)
    return path.exists() and path.read_text().strip().startswith(PREFIX)


def decrypt(text: str, passphrase: str) -> Identity:
    try:
        secret = EncryptedSecretKey.from_bech32(text.strip()).decrypt(passphrase)
    except Exception:
        raise WrongPassphrase("That passphrase does not unlock the secret key.") from None
    return Identity.from_secret(bytes.fromhex(secret.to_hex()))


def encrypt(ident: Identity, passphrase: str) -> str:
    if not passphrase:
        raise IdentityError("An empty passphrase protects nothing; choose one.")
    key = EncryptedSecretKey(SecretKey.parse(ident.secret.hex()), passphrase, LOG_N, KeySecurity.MEDIUM)
    return str(key.to_bech32())


def read_protected(path: Path, text: str) -> Identity:
    """The identity of a protected key file: from this session, else with `KOBOLD_PASSPHRASE`."""
    found = _session.get((str(path), text.strip()))
    if found is not None:
        return found
    passphrase = os.environ.get(ENV)
    if passphrase is None:
        raise IdentityError(
            f"The secret key is protected by a passphrase; run kobold in a terminal to be asked, or set {ENV}."
        )
    try:
        ident = decrypt(text, passphrase)
    except WrongPassphrase:
        raise WrongPassphrase(f"{ENV} does not unlock the secret key; check it and try again.") from None
    _session[(str(path), text.strip())] = ident
    return ident


def unlock(
    home: Path, ask: Callable[[str], str], tell: Callable[[str], None], tries: int = TRIES
) -> Identity | None:
    """Decrypt a protected key once for this session, asking with `ask(prompt)` up to `tries` times and
    saying what went wrong with `tell`. Returns None when the key is not protected.

    `KOBOLD_PASSPHRASE`, when set, is used instead of asking.
    """
    path = key_path(home)
    if not is_protected(home):
        return None
    text = path.read_text().strip()
    if (str(path), text) in _session or os.environ.get(ENV) is not None:
        return read_protected(path, text)
    for attempt in range(1, tries + 1):
        try:
            ident = decrypt(text, ask("Passphrase for your Kobold key: "))
        except WrongPassphrase:
            left = tries - attempt
            if left:
                tell(f"Wrong passphrase; {left} {'try' if left == 1 else 'tries'} left.")
            continue
        _session[(str(path), text)] = ident
        return ident
    raise WrongPassphrase(
        f"{tries} wrong passphrases; the key stays locked. Without the passphrase only a backup of the key "
        "(an nsec from `kobold id export`) can recover this identity."
    )


def protect(home: Path, ident: Identity, passphrase: str) -> None:
    """Replace the plaintext key file with its NIP-49 encryption under `passphrase`."""
    if is_protected(home):
        raise IdentityError(
            "The key is already protected; `kobold id unprotect` removes the passphrase first."
        )
    text = encrypt(ident, passphrase)
    _write(key_path(home), text)
    _session[(str(key_path(home)), text)] = ident


def unprotect(home: Path, ident: Identity) -> None:
    """Write the key back in plaintext (the store was unlocked to get `ident`)."""
    if not is_protected(home):
        raise IdentityError("The key has no passphrase; nothing to remove.")
    _write(key_path(home), ident.nsec)


def permission_warning(home: Path) -> str | None:
    """A warning when a protected key file is readable by others (a plaintext one is refused outright)."""
    path = key_path(home)
    if not path.exists():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        return f"Warning: the key file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`."
    return None


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text + "\n")
    os.replace(tmp, path)

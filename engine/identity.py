"""The store's Nostr identity: a secp256k1 key pair kept in a 0600 file as an nsec."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from coincurve import PrivateKey
from nostr_sdk import Keys, PublicKey

from engine.errors import IdentityError
from engine.nostr_event import public_key_hex
from engine.paths import KEY_FILE


@dataclass(frozen=True)
class Identity:
    secret: bytes
    pubkey: str

    @property
    def npub(self) -> str:
        return str(PublicKey.parse(self.pubkey).to_bech32())

    @property
    def nsec(self) -> str:
        return str(Keys.parse(self.secret.hex()).secret_key().to_bech32())

    @classmethod
    def from_secret(cls, secret: bytes) -> Identity:
        return cls(secret, public_key_hex(secret))

    @classmethod
    def parse(cls, text: str) -> Identity:
        """Accept an nsec or 64 hex characters."""
        try:
            keys = Keys.parse(text.strip())
        except Exception:
            raise IdentityError(
                "That is not a valid secret key: give an nsec1… string or 64 hex characters."
            ) from None
        return cls.from_secret(bytes.fromhex(keys.secret_key().to_hex()))

    @classmethod
    def generate(cls) -> Identity:
        return cls.from_secret(PrivateKey().secret)


def short_npub(pubkey_hex: str) -> str:
    """npub1abcd…wxyz: enough to tell authors apart on screen."""
    npub = str(PublicKey.parse(pubkey_hex).to_bech32())
    return f"{npub[:10]}…{npub[-4:]}"


def npub_to_hex(text: str) -> str:
    try:
        return str(PublicKey.parse(text.strip()).to_hex())
    except Exception:
        raise IdentityError(
            f"{text!r} is not a public key: give an npub1… string or 64 hex characters."
        ) from None


def key_path(home: Path) -> Path:
    return home / KEY_FILE


def load_or_create(home: Path) -> Identity:
    """The store's identity, created on first use."""
    path = key_path(home)
    if path.exists():
        return _read(path)
    ident = Identity.generate()
    _write(path, ident)
    return ident


def import_key(home: Path, text: str, *, force: bool = False) -> Identity:
    """Adopt an existing key; refuses to replace a different key unless forced."""
    new = Identity.parse(text)
    path = key_path(home)
    if path.exists():
        old = _read(path)
        if old.pubkey == new.pubkey:
            return old
        if not force:
            raise IdentityError(
                f"This store already has the identity {old.npub}; pass --force to replace it "
                "(back up the old key first with `kobold id export`)."
            )
    _write(path, new)
    return new


def _read(path: Path) -> Identity:
    text = path.read_text()
    if text.strip().startswith("ncryptsec1"):  # passphrase-protected (NIP-49): engine/key_protection.py
        from engine.key_protection import read_protected

        return read_protected(path, text)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise IdentityError(
            f"The key file {path} is readable by others (mode {mode:o}); run `chmod 600 {path}`."
        )
    return Identity.parse(text)


def _write(path: Path, ident: Identity) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(ident.nsec + "\n")
    os.replace(tmp, path)

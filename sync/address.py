"""Shareable dataset addresses: NIP-19 `naddr` (kind 4870, owner pubkey, dataset id, relay hints)."""

from __future__ import annotations

from dataclasses import dataclass

from nostr_sdk import Coordinate, Kind, Nip19Coordinate, NostrSdkError, PublicKey, RelayUrl

from engine.identity import npub_to_hex
from engine.protocol import KIND_GENESIS
from sync.state import SyncError


@dataclass(frozen=True)
class Address:
    dataset_id: str
    owner: str  # hex pubkey
    relays: list[str]


def encode(dataset_id: str, owner: str, relays: list[str]) -> str:
    coordinate = Coordinate(Kind(KIND_GENESIS), PublicKey.parse(owner), dataset_id)
    return str(Nip19Coordinate(coordinate, [RelayUrl.parse(u) for u in relays]).to_bech32())


def decode(text: str, owner: str | None = None, relays: list[str] | None = None) -> Address:
    """An naddr, or a bare dataset id with its owner's npub; extra relays join the address's hints."""
    text = text.strip().removeprefix("nostr:")
    extra = list(relays or [])
    if text.startswith("naddr1"):
        try:
            parsed = Nip19Coordinate.from_bech32(text)
        except NostrSdkError:
            raise SyncError(
                f"{text[:20]}… is not a valid naddr; copy it again from `kobold dataset show`."
            ) from None
        c = parsed.coordinate()
        if c.kind().as_u16() != KIND_GENESIS:
            raise SyncError(f"That naddr points at a kind-{c.kind().as_u16()} event, not a Kobold dataset.")
        hints = [str(u) for u in parsed.relays()]
        return Address(c.identifier(), c.public_key().to_hex(), hints + [u for u in extra if u not in hints])
    if owner is None:
        raise SyncError("Give an naddr (from `kobold dataset show`), or a dataset id with --owner NPUB.")
    if len(text) != 32 or any(ch not in "0123456789abcdef" for ch in text):
        raise SyncError(f"{text!r} is neither an naddr nor a 32-character dataset id.")
    return Address(text, npub_to_hex(owner), extra)

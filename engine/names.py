"""Names for public keys, kept in this store only: tribes (named sets of pubkeys with a petname each) and the
profile names (NIP-01 kind 0) that sync fetches into `profiles`.

`display_name` is the one way an author is shown anywhere (history, blame, log, roles): a petname the user gave,
else the author's profile name, else a short npub. Nothing here is signed or leaves the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from nostr_sdk import PublicKey

from engine.errors import IdentityError, NotFound, ValidationError
from engine.identity import npub_to_hex, short_npub
from engine.limits import MAX_NAME

if TYPE_CHECKING:
    from engine.store import Store

DDL = """
CREATE TABLE IF NOT EXISTS tribes (tribe VARCHAR NOT NULL, pubkey VARCHAR NOT NULL, petname VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (pubkey VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, fetched_at BIGINT NOT NULL);
"""

# Per open store (`store.memo`): pubkey -> shown name, dropped whenever a tribe or profile changes. History views
# ask for thousands of names; one query per store beats one per row.
_MEMO = ("names", "")


def ensure_tables(store: Store) -> None:
    store.prepare("names", DDL)


def npub(pubkey: str) -> str:
    return str(PublicKey.parse(pubkey).to_bech32())


def _known(store: Store) -> dict[str, str]:
    known: dict[str, str] | None = store.memo.get(_MEMO)
    if known is None:
        ensure_tables(store)
        known = {}
        for pubkey, name in store.con.execute("SELECT pubkey, name FROM profiles").fetchall():
            known[pubkey] = name
        # Petnames win over profile names: the user chose them. The first tribe by name decides a tie.
        for pubkey, petname in store.con.execute(
            "SELECT pubkey, petname FROM tribes ORDER BY tribe DESC, petname DESC"
        ).fetchall():
            known[pubkey] = petname
        store.memo[_MEMO] = known
    return known


def forget(store: Store) -> None:
    """Drop the cached names (after a tribe or profile changed)."""
    store.memo.pop(_MEMO, None)


def display_name(store: Store, pubkey: str) -> str:
    """A petname, else the profile name, else a short npub."""
    return _known(store).get(pubkey) or short_npub(pubkey)


def display_names(store: Store, pubkeys: Iterable[str]) -> dict[str, str]:
    known = _known(store)
    return {p: known.get(p) or short_npub(p) for p in pubkeys}


def save_profile(store: Store, pubkey: str, name: str, fetched_at: int) -> None:
    """Remember an author's profile name (sync calls this with the `name` of their latest kind-0 event)."""
    ensure_tables(store)
    store.con.execute(
        "INSERT OR REPLACE INTO profiles VALUES (?, ?, ?)", [pubkey, _clean(name, "profile name"), fetched_at]
    )
    forget(store)


# --- tribes -----------------------------------------------------------------------------------------------------


def _clean(text: str, what: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise ValidationError(f"A {what} cannot be empty.")
    if len(text) > MAX_NAME:
        raise ValidationError(f"A {what} is at most {MAX_NAME} characters; {text[:20]!r}… is longer.")
    return text


def add_to_tribe(store: Store, tribe: str, key: str, petname: str) -> str:
    """Add (or rename) a member of a tribe; returns the member's hex pubkey."""
    ensure_tables(store)
    tribe, petname = _clean(tribe, "tribe name"), _clean(petname, "petname")
    pubkey = npub_to_hex(key)
    clash = store.con.execute(
        "SELECT pubkey FROM tribes WHERE petname = ? AND pubkey <> ?", [petname, pubkey]
    ).fetchone()
    if clash:
        raise ValidationError(
            f"The petname {petname!r} already names {short_npub(clash[0])}; pick another so names stay unambiguous."
        )
    with store.transaction():
        store.con.execute("DELETE FROM tribes WHERE tribe = ? AND pubkey = ?", [tribe, pubkey])
        store.con.execute("INSERT INTO tribes VALUES (?, ?, ?)", [tribe, pubkey, petname])
    forget(store)
    return pubkey


def remove_from_tribe(store: Store, tribe: str, key: str | None = None) -> int:
    """Remove one member (by npub, hex or petname) or, without `key`, the whole tribe; returns how many left."""
    ensure_tables(store)
    members = tribe_members(store, tribe)
    if key is not None:
        pubkey = resolve(store, key)
        members = [m for m in members if m["pubkey"] == pubkey]
        if not members:
            raise NotFound(f"{key!r} is not in the tribe {tribe!r}.")
    store.con.execute(
        "DELETE FROM tribes WHERE tribe = ? AND pubkey IN (SELECT unnest(?::VARCHAR[]))",
        [tribe, [m["pubkey"] for m in members]],
    )
    forget(store)
    return len(members)


def tribe_members(store: Store, tribe: str) -> list[dict[str, Any]]:
    """The tribe's members with petnames; raises NotFound for an unknown tribe."""
    ensure_tables(store)
    rows = store.con.execute(
        "SELECT pubkey, petname FROM tribes WHERE tribe = ? ORDER BY petname", [tribe]
    ).fetchall()
    if not rows:
        known = ", ".join(t["tribe"] for t in tribes(store)) or "none yet"
        raise NotFound(f"No tribe called {tribe!r} (tribes: {known}); `kobold tribe add` creates one.")
    return [{"pubkey": p, "npub": npub(p), "petname": n} for p, n in rows]


def tribes(store: Store) -> list[dict[str, Any]]:
    ensure_tables(store)
    rows = store.con.execute("SELECT tribe, pubkey, petname FROM tribes ORDER BY tribe, petname").fetchall()
    out: dict[str, list[dict[str, str]]] = {}
    for tribe, pubkey, petname in rows:
        out.setdefault(tribe, []).append({"pubkey": pubkey, "npub": npub(pubkey), "petname": petname})
    return [{"tribe": t, "members": m} for t, m in out.items()]


def resolve(store: Store, key: str) -> str:
    """A hex pubkey from an npub, 64 hex characters, or a petname of a tribe member."""
    try:
        return npub_to_hex(key)
    except IdentityError:
        pass
    ensure_tables(store)
    rows = store.con.execute("SELECT DISTINCT pubkey FROM tribes WHERE petname = ?", [key.strip()]).fetchall()
    if len(rows) == 1:
        return str(rows[0][0])
    raise IdentityError(f"{key!r} is neither a public key (npub1… or 64 hex) nor a petname in your tribes.")

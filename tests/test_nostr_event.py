import json
from pathlib import Path

import pytest
from nostr_sdk import Event, Keys

from engine.errors import EventRejected
from engine.nostr_event import NostrEvent, compute_id, public_key_hex, sign_event

SECRET = bytes.fromhex("7f" * 32)
VECTORS = Path(__file__).parent / "vectors" / "events.json"


def test_our_signatures_verify_in_nostr_sdk_and_theirs_in_ours() -> None:
    ev = sign_event(SECRET, 1_700_000_000, 4872, (("D", "ab" * 16), ("v", "1")), '{"ops":[]}')
    assert Event.from_json(ev.to_json()).verify()
    keys = Keys.parse(SECRET.hex())
    from nostr_sdk import EventBuilder, Kind, Tag

    theirs = EventBuilder(Kind(4872), "hello ✓").tags([Tag.parse(["D", "cd" * 16])]).finalize(keys)
    parsed = NostrEvent.from_json(theirs.as_json())
    parsed.verify()
    assert parsed.pubkey == public_key_hex(SECRET)


def test_forged_signature_is_rejected() -> None:
    ev = sign_event(SECRET, 1_700_000_000, 4872, (), "x")
    other = sign_event(bytes.fromhex("11" * 32), 1_700_000_000, 4872, (), "x")
    forged = NostrEvent(ev.id, ev.pubkey, ev.created_at, ev.kind, ev.tags, ev.content, other.sig)
    with pytest.raises(EventRejected, match="signature"):
        forged.verify()


def test_changed_content_no_longer_matches_its_id() -> None:
    ev = sign_event(SECRET, 1_700_000_000, 4872, (), "original")
    tampered = NostrEvent(ev.id, ev.pubkey, ev.created_at, ev.kind, ev.tags, "changed", ev.sig)
    with pytest.raises(EventRejected, match="id does not match"):
        tampered.verify()


@pytest.mark.parametrize(
    "text, reason",
    [
        ("{not json", "malformed JSON"),
        ("[]", "not a JSON object"),
        ('{"id": "zz"}', "id must be 64"),
        (
            json.dumps(
                {
                    "id": "a" * 64,
                    "pubkey": "b" * 64,
                    "created_at": -1,
                    "kind": 1,
                    "tags": [],
                    "content": "",
                    "sig": "c" * 128,
                }
            ),
            "created_at",
        ),
        (
            json.dumps(
                {
                    "id": "a" * 64,
                    "pubkey": "b" * 64,
                    "created_at": 1,
                    "kind": 1,
                    "tags": [[1]],
                    "content": "",
                    "sig": "c" * 128,
                }
            ),
            "tags",
        ),
    ],
)
def test_malformed_events_get_a_reason(text: str, reason: str) -> None:
    with pytest.raises(EventRejected, match=reason):
        NostrEvent.from_json(text)


def test_protocol_vectors_give_exact_ids_and_verifiable_signatures() -> None:
    vectors = json.loads(VECTORS.read_text())
    assert len(vectors["valid"]) >= 3
    for v in vectors["valid"]:
        secret = bytes.fromhex(v["secret_key"])
        tags = tuple(tuple(t) for t in v["tags"])
        assert public_key_hex(secret) == v["event"]["pubkey"], v["name"]
        assert (
            compute_id(v["event"]["pubkey"], v["created_at"], v["kind"], tags, v["content"])
            == v["event"]["id"]
        ), v["name"]
        NostrEvent.from_dict(v["event"]).verify()
        assert Event.from_json(json.dumps(v["event"])).verify(), v["name"]


@pytest.mark.parametrize(
    "content",
    [
        '{"v":1,"ops":[{"o":"create","f":{"a":"x\\ny \\"q\\" \\\\ é ✓"}}]}',
        "control \x00\x0b\x1f and DEL \x7f",  # DuckDB writes these escapes in upper case; NIP-01 in lower
        "a literal backslash-u: \\u00e9 and \\\\u0041",
        "\u2028\u2029 emoji 😀 and /slashes/",
        "",
    ],
)
def test_bulk_signing_from_duckdb_escaped_content_gives_the_canonical_id(content: str) -> None:
    import duckdb

    from engine.nostr_event import signer

    escaped = duckdb.connect().execute("SELECT encode(to_json(?::VARCHAR))", [content]).fetchone()[0]
    tags = (("D", "ab" * 16), ("c", "7"), ("e", "cd" * 32, "", "parent"))
    tags_json = json.dumps([list(t) for t in tags], separators=(",", ":"))
    event_id, sig = signer(SECRET).sign_escaped(1_700_000_000, 4872, tags_json, escaped)
    assert event_id == compute_id(public_key_hex(SECRET), 1_700_000_000, 4872, tags, content)
    ev = NostrEvent(event_id, public_key_hex(SECRET), 1_700_000_000, 4872, tags, content, sig)
    ev.verify()
    assert Event.from_json(ev.to_json()).verify()

"""Regenerate tests/vectors/events.json (run by hand when the protocol changes; tests only read the file)."""

from __future__ import annotations

import json
from pathlib import Path

from engine.nostr_event import sign_event
from engine.protocol import KIND_CHANGESET, KIND_GENESIS, KIND_SCHEMA
from engine.writes import dataset_id_for, dumps, envelope_tags

SECRET = "0000000000000000000000000000000000000000000000000000000000000003"
CREATED_AT = 1_790_000_000


def build() -> dict[str, object]:
    secret = bytes.fromhex(SECRET)
    from engine.nostr_event import public_key_hex

    pubkey = public_key_hex(secret)
    nonce = "00112233445566778899aabbccddeeff"
    ds = dataset_id_for(pubkey, nonce)
    items = []
    genesis_body = dumps({"v": 1, "name": "Community Seed Catalog", "type": "org.tribes.scv.seed-catalog",
                          "visibility": "public", "description": "", "nonce": nonce})  # fmt: skip
    genesis = sign_event(secret, CREATED_AT, KIND_GENESIS, envelope_tags(ds, 0, []), genesis_body)
    items.append(("genesis", genesis, KIND_GENESIS, genesis_body))
    definition = {
        "key": "Supplier", "name": "Supplier", "description": "", "computed": [], "validations": [], "hints": {},
        "fields": [{"key": "name", "name": "name", "type": "string", "required": True, "unique": False,
                    "description": ""}],
    }  # fmt: skip
    schema_body = dumps(
        {"v": 1, "definition": definition, "changes": [{"change": "create_resource", "name": "Supplier"}]}
    )
    schema = sign_event(secret, CREATED_AT + 1, KIND_SCHEMA, envelope_tags(ds, 1, [genesis.id]), schema_body)
    items.append(("schema", schema, KIND_SCHEMA, schema_body))
    ops = [
        {
            "o": "create",
            "r": "Supplier",
            "id": "0190f0c0a0b07000800000000000000a",
            "f": {"name": "Riverside Seed Library"},
        },
        {
            "o": "update",
            "r": "Supplier",
            "id": "0190f0c0a0b07000800000000000000a",
            "f": {"name": "Riverside Seeds"},
        },
    ]
    cs_body = dumps({"v": 1, "ops": ops})
    cs = sign_event(secret, CREATED_AT + 2, KIND_CHANGESET, envelope_tags(ds, 2, [schema.id]), cs_body)
    items.append(("changeset", cs, KIND_CHANGESET, cs_body))
    valid = [
        {"name": name, "secret_key": SECRET, "created_at": ev.created_at, "kind": kind,
         "tags": [list(t) for t in ev.tags], "content": body, "event": ev.to_dict()}
        for name, ev, kind, body in items
    ]  # fmt: skip
    return {"dataset_id": ds, "valid": valid}


if __name__ == "__main__":
    out = Path(__file__).with_name("events.json")
    out.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n")
    print(out)

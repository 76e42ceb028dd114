"""Regenerate tests/vectors/envelopes.json: one valid vector per envelope type and invalid ones with the expected
rejection reason (run by hand when the protocol changes; tests only read the file).

Signatures use BIP-340 with random auxiliary data, so `sig` differs on each run; `id` does not, and the test
checks each `sig` verifies.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.nostr_event import public_key_hex, sign_event
from engine.protocol import (
    KIND_CHANGESET,
    KIND_DECISION,
    KIND_GENESIS,
    KIND_MANIFEST,
    KIND_PROPOSAL,
    KIND_SCHEMA,
    KIND_SNAPSHOT,
)
from engine.writes import dataset_id_for, dumps, envelope_tags

SECRET = "0000000000000000000000000000000000000000000000000000000000000003"
OTHER = "0000000000000000000000000000000000000000000000000000000000000005"
T = 1_790_000_000


def build() -> dict[str, object]:
    secret = bytes.fromhex(SECRET)
    pubkey = public_key_hex(secret)
    nonce = "00112233445566778899aabbccddeeff"
    ds = dataset_id_for(pubkey, nonce)
    items: list[dict[str, object]] = []

    def add(
        envelope: str, name: str, kind: int, tags: tuple, body: object, t: int = T, key: str = SECRET
    ) -> dict:
        content = body if isinstance(body, str) else dumps(body)
        ev = sign_event(bytes.fromhex(key), t, kind, tags, content)
        item = {"envelope": envelope, "name": name, "secret_key": key, "created_at": t, "kind": kind,
                "tags": [list(x) for x in tags], "content": content, "event": ev.to_dict()}  # fmt: skip
        items.append(item)
        return ev.to_dict()

    definition = {"key": "Supplier", "name": "Supplier", "description": "", "removed": False, "computed": [],
                  "validations": [], "hints": {},
                  "fields": [{"key": "name", "name": "name", "type": "string", "required": True, "unique": False,
                              "description": ""}]}  # fmt: skip
    g = add("DatasetManifest", "genesis", KIND_GENESIS, envelope_tags(ds, 0, []),
            {"v": 1, "name": "Community Seed Catalog", "type": "org.tribes.scv.seed-catalog", "visibility": "public",
             "description": "", "nonce": nonce})  # fmt: skip
    m = add(
        "DatasetManifest",
        "manifest change",
        KIND_MANIFEST,
        envelope_tags(ds, 1, [g["id"]]),
        {"v": 1, "name": "Seed Library"},
        T + 1,
    )
    s = add(
        "SchemaBundle",
        "schema",
        KIND_SCHEMA,
        envelope_tags(ds, 2, [m["id"]]),
        {"v": 1, "definition": definition, "changes": [{"change": "create_resource", "name": "Supplier"}]},
        T + 2,
    )
    rid = "0190f0c0a0b07000800000000000000a"
    c = add("EventEnvelope", "changeset", KIND_CHANGESET, envelope_tags(ds, 3, [s["id"]]),
            {"v": 1, "ops": [{"o": "create", "r": "Supplier", "id": rid, "f": {"name": "Riverside Seed Library"}}]},
            T + 3)  # fmt: skip
    from engine import ingest, state_hash
    from engine.store import Store

    store = Store.open(Path("/tmp/kobold-vectors"), memory=True)
    store.now = lambda: T + 10
    ingest.ingest(store, [json.dumps(x["event"]) for x in items])
    declared = state_hash.state_hash(store, ds)
    store.close()
    header = add("Snapshot", "snapshot header", KIND_SNAPSHOT, envelope_tags(ds, 3, []),
                 {"v": 1, "part": 0, "parts": 2, "heads": [[c["id"], 3]], "state_hash": declared,
                  "manifest": {"name": "Seed Library", "description": "", "type": "org.tribes.scv.seed-catalog",
                               "visibility": "public"},
                  "resources": [{"event": s["id"], "clock": 2, "definition": definition}]}, T + 4)  # fmt: skip
    add(
        "Snapshot",
        "snapshot chunk",
        KIND_SNAPSHOT,
        (*envelope_tags(ds, 3, []), ("S", header["id"])),
        {"v": 1, "part": 1, "resource": "Supplier", "rows": [[rid, {"name": "Riverside Seed Library"}]]},
        T + 4,
    )
    # A proposal has no parents (it is not part of the upstream's history) and names its fork in the F tag.
    proposal_body = {
        "v": 1,
        "fork": "f" * 32,
        "base": [c["id"]],
        "events": ["a" * 64, "b" * 64],
        "title": "More suppliers",
        "message": "Adds two seed libraries from the valley.",
    }
    proposal = add(
        "MergeProposal",
        "merge proposal",
        KIND_PROPOSAL,
        ((("D", ds)), ("v", "1"), ("clock", "0"), ("F", "f" * 32)),
        proposal_body,
        T + 5,
    )
    add("EventEnvelope", "merge decision (rejecting)", KIND_DECISION, envelope_tags(ds, 4, [c["id"]]),
        {"v": 1, "direction": "accept", "proposal": proposal["id"], "fork": "f" * 32, "upstream": ds,
         "status": "rejected", "message": "Not this season.", "summary": {}, "schema": [], "part": 0, "parts": 1,
         "events": [], "ops": []}, T + 6)  # fmt: skip
    invalid = [
        {"name": "forged signature", "event": {**c, "sig": sign_event(bytes.fromhex(OTHER), T + 3, KIND_CHANGESET, (), "x").sig},
         "reason": "the signature does not verify against the author's key"},
        {"name": "content changed after signing", "event": {**c, "content": c["content"].replace("Riverside", "Hillside")},
         "reason": "the event id does not match its content"},
        {"name": "unknown kind", "event": sign_event(secret, T, 4999, envelope_tags(ds, 4, [c["id"]]), "{}").to_dict(),
         "reason": "unknown kind 4999"},
        {"name": "unknown version", "event": sign_event(secret, T, KIND_CHANGESET, ((("D", ds)), ("v", "2"), ("clock", "4"),
                                                                                     ("e", c["id"], "", "parent")), "{}").to_dict(),
         "reason": "unknown protocol version '2' (this Kobold reads version 1)"},
        {"name": "genesis with a dataset id not derived from author and nonce",
         "event": sign_event(bytes.fromhex(OTHER), T, KIND_GENESIS, envelope_tags(ds, 0, []), g["content"]).to_dict(),
         "reason": "the dataset id does not derive from the genesis author and nonce"},
        {"name": "changeset on an unknown field",
         "event": sign_event(secret, T + 3, KIND_CHANGESET, envelope_tags(ds, 3, [s["id"]]),
                             dumps({"v": 1, "ops": [{"o": "create", "r": "Supplier", "id": rid, "f": {"town": "X"}}]})).to_dict(),
         "reason": "op 0: Supplier has no field 'town'"},
        {"name": "changeset whose op repeats a key",
         "event": sign_event(secret, T + 3, KIND_CHANGESET, envelope_tags(ds, 3, [s["id"]]),
                             '{"v":1,"ops":[{"o":"create","r":"Supplier","id":"' + rid + '","f":{"name":"A","name":"B"}}]}').to_dict(),
         "reason": "the content repeats the key 'name'"},
        {"name": "changeset whose clock is not above its parent's",
         "event": sign_event(secret, T + 3, KIND_CHANGESET, envelope_tags(ds, 2, [s["id"]]), c["content"]).to_dict(),
         "reason": "the clock is not greater than its parents' clocks (a parent cycle or a forged clock)"},
        {"name": "created_at far in the future (receiver clock 1790000010)",
         "event": sign_event(secret, T + 3 * 86_400, KIND_CHANGESET, envelope_tags(ds, 3, [s["id"]]), c["content"]).to_dict(),
         "reason": "created_at is more than a day in the future"},
        {"name": "merge proposal naming parents",
         "event": sign_event(secret, T + 5, KIND_PROPOSAL, (*envelope_tags(ds, 3, [s["id"]]), ("F", "f" * 32)),
                             dumps(proposal_body)).to_dict(),
         "reason": "a proposal names no parents (it is not part of the upstream's history)"},
    ]  # fmt: skip
    return {"dataset_id": ds, "receiver_now": T + 10, "valid": items, "invalid": invalid}


if __name__ == "__main__":
    out = Path(__file__).with_name("envelopes.json")
    out.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n")
    print(out)

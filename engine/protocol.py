"""Kobold's event kinds, tags and content versions (the spec is docs/PROTOCOL.md; keep the two in step)."""

from __future__ import annotations

PROTOCOL_VERSION = 1

# Regular (stored, never replaced) kinds in a range no NIP uses.
KIND_GENESIS = 4870  # dataset genesis: name, type, visibility, nonce, optional origin (fork)
KIND_SCHEMA = 4871  # full definition of one resource after a change, plus the list of changes
KIND_CHANGESET = 4872  # many record operations, like a git commit
KIND_ROLE = 4873  # role grant or revoke
KIND_PROPOSAL = 4874  # merge proposal from a fork
KIND_DECISION = 4875  # merge decision in the upstream log
KIND_SNAPSHOT = 4876  # one chunk of a signed checkpoint
KIND_MANIFEST = 4877  # change of a dataset's name, description or visibility

DATASET_KINDS = frozenset(
    {
        KIND_GENESIS,
        KIND_SCHEMA,
        KIND_CHANGESET,
        KIND_ROLE,
        KIND_PROPOSAL,
        KIND_DECISION,
        KIND_SNAPSHOT,
        KIND_MANIFEST,
    }
)
KIND_NAMES = {
    KIND_GENESIS: "genesis",
    KIND_SCHEMA: "schema",
    KIND_CHANGESET: "changeset",
    KIND_ROLE: "role",
    KIND_PROPOSAL: "proposal",
    KIND_DECISION: "decision",
    KIND_SNAPSHOT: "snapshot",
    KIND_MANIFEST: "manifest",
}

TAG_DATASET = "D"  # indexed by relays: filter a dataset's events with {"#D": [dataset_id]}
TAG_VERSION = "v"
TAG_CLOCK = "clock"
TAG_PARENT = "e"  # ["e", parent_id, "", "parent"]
PARENT_MARKER = "parent"

OPS = ("create", "update", "delete", "restore")
VISIBILITIES = ("public", "tribe", "private")

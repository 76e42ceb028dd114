"""The role matrix once more, with every event arriving through a relay: a follower judges each alike."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from engine import ingest, state_hash
from engine.identity import short_npub
from engine.nostr_event import NostrEvent
from engine.store import Store
from sync import replication
from sync.relay_socket import RelaySocket
from sync.session import sync_once
from tests import test_authorization
from tests.test_authorization import ACTIONS, ALLOWED, NEEDED, ROLE_CASES

world = test_authorization.world  # the same owner, dataset and one actor per role


def test_every_role_and_action_is_judged_alike_after_a_relay(
    world: dict[str, Any],
    tmp_path: Path,
    local_relay: str,
) -> None:
    owner, ds, third = world["owner"], world["ds"], world["third"].identity.pubkey
    expected: dict[str, tuple[str, str]] = {}  # event id -> (role, action)
    forced: list[NostrEvent] = []
    for role in (r for r in ROLE_CASES if r != "owner"):
        for action, (_, raw, _) in ACTIONS.items():
            ev = raw(world[role], ds, third)
            if ev is not None:  # decisions need a real proposal; tests/test_authorization.py asks the rule
                forced.append(ev)
                expected[ev.id] = (role, action)

    async def publish() -> None:
        socket = RelaySocket(local_relay)
        await socket.open(3)
        for raw in [*ingest.all_events(owner, ds)]:
            ev = NostrEvent.from_json(raw)
            assert (await socket.publish(ev.id, raw, 5))[0]
        for ev in forced:
            assert (await socket.publish(ev.id, ev.to_json(), 5))[0]  # a relay does not judge roles
        await socket.close()

    asyncio.run(publish())
    with Store.open(tmp_path / "follower") as follower:
        replication.follow(follower, replication.share_address(owner, ds) or "", None, [local_relay])
        report = asyncio.run(sync_once(follower))
        held = {
            r[0] for r in follower.con.execute("SELECT id FROM events WHERE dataset_id = ?", [ds]).fetchall()
        }
        reasons = dict(report.rejected)
        for event_id, (role, action) in expected.items():
            actor = short_npub(world[role].identity.pubkey)
            if action in ALLOWED[role]:
                assert event_id in held, (role, action, reasons.get(event_id))
            else:
                assert event_id not in held, (role, action)
                assert (
                    reasons[event_id].startswith(f"{actor} may not") and NEEDED[action] in reasons[event_id]
                )
        # What the follower kept is what the owner's own store keeps from the same events.
        ingest.ingest(owner, [ev.to_json() for ev in forced])
        assert state_hash.state_hash(follower, ds) == state_hash.state_hash(owner, ds)

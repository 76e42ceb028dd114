"""Proposals from outside are judged like any event: forged or foreign events are refused with a reason; a
decision made offline replicates to the same state whatever the delivery order; the CLI drives it end to end."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import forks, history, merge, proposals, records, state_hash, writes
from engine.merge_content import TAG_FORK
from engine.nostr_event import sign_event
from engine.protocol import KIND_PROPOSAL
from engine.store import Store
from kobold_tui.cli import main
from sync import bundle
from tests.test_forks import make_two_stores, send_proposal


@pytest.fixture
def two_stores(tmp_path: Path) -> Iterator[tuple[Store, Store, str, list[str]]]:
    yield from make_two_stores(tmp_path)


def _rewrite(path: Path, change: Any) -> None:
    with gzip.open(path, "rt") as f:
        lines = [json.loads(x) for x in f.read().splitlines()]
    lines = change(lines)
    with gzip.open(path, "wt") as f:
        f.write("\n".join(json.dumps(x, separators=(",", ":"), ensure_ascii=False) for x in lines) + "\n")


def test_a_proposal_naming_a_forged_event_is_refused_with_the_reason(two_stores: Any, tmp_path: Path) -> None:
    up, contrib, ds, ids = two_stores
    fork = forks.fork_dataset(contrib, ds)
    ev = records.update_record(contrib, fork, "SeedVariety", ids[0], {"variety_name": "Forged later"})
    p = proposals.create(contrib, fork)
    path = tmp_path / "p.kobold"
    proposals.export_bundle(contrib, p.id, path)

    def forge(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for x in lines:
            if x.get("id") == ev.id:
                x["content"] = x["content"].replace("Forged later", "Something else")
        return lines

    _rewrite(path, forge)
    got = bundle.import_bundle(up, path).report.rejected
    reasons = dict(got)
    assert reasons[ev.id] == "the event id does not match its content"
    assert (
        reasons[p.id]
        == f"the proposal names event {ev.id[:12]}, which was refused: the event id does not match its content"
    )
    assert proposals.all_proposals(up, ds) == []


def test_a_proposal_claiming_events_of_another_dataset_is_refused(two_stores: Any, tmp_path: Path) -> None:
    up, contrib, ds, ids = two_stores
    fork = forks.fork_dataset(contrib, ds)
    records.update_record(contrib, fork, "SeedVariety", ids[0], {"variety_name": "Mine"})
    upstream_event = contrib.con.execute(
        "SELECT id FROM events WHERE dataset_id = ? AND kind = 4872 LIMIT 1", [ds]
    ).fetchone()[0]
    body = {"v": 1, "fork": fork, "base": forks.current_base(contrib, fork), "events": [upstream_event],
            "title": "sneaky", "message": ""}  # fmt: skip
    tags = (("D", ds), ("v", "1"), ("clock", "0"), (TAG_FORK, fork))
    forged = sign_event(contrib.identity.secret, contrib.now(), KIND_PROPOSAL, tags, writes.dumps(body))
    real = proposals.create(contrib, fork)
    path = tmp_path / "p.kobold"
    proposals.export_bundle(contrib, real.id, path)
    _rewrite(path, lambda lines: [*lines, forged.to_dict()])
    rejected = dict(bundle.import_bundle(up, path).report.rejected)
    assert rejected == {
        forged.id: f"the proposal claims event {upstream_event[:12]} of dataset {ds}, not of its fork {fork}"
    }
    assert [p.id for p in proposals.all_proposals(up, ds)] == [real.id]


def test_a_proposal_signed_by_someone_else_than_the_forks_owner_is_refused(
    two_stores: Any, tmp_path: Path
) -> None:
    up, contrib, ds, ids = two_stores
    fork = forks.fork_dataset(contrib, ds)
    records.update_record(contrib, fork, "SeedVariety", ids[0], {"variety_name": "Mine"})
    real = proposals.create(contrib, fork)
    tags = (("D", ds), ("v", "1"), ("clock", "0"), (TAG_FORK, fork))
    body = {"v": 1, "fork": fork, "base": real.base, "events": real.events, "title": "x", "message": ""}
    other = sign_event(up.identity.secret, up.now(), KIND_PROPOSAL, tags, writes.dumps(body))
    path = tmp_path / "p.kobold"
    proposals.export_bundle(contrib, real.id, path)
    _rewrite(path, lambda lines: [*lines, other.to_dict()])
    rejected = dict(bundle.import_bundle(up, path).report.rejected)
    assert rejected == {other.id: "the proposal is not signed by the fork's owner"}


def test_an_offline_decision_replicates_to_the_same_state_in_any_order(
    two_stores: Any, tmp_path: Path
) -> None:
    up, contrib, ds, ids = two_stores
    fork = forks.fork_dataset(contrib, ds)
    records.update_record(contrib, fork, "SeedVariety", ids[0], {"variety_name": "From fork"})
    records.create_record(contrib, fork, "SeedVariety", {"species": "Capsicum", "variety_name": "New"})
    p = proposals.create(contrib, fork)
    send_proposal(contrib, up, p, tmp_path / "p.kobold")
    merge.accept(up, p.id, merge.Choices(), "merged offline")  # no network anywhere: a local write
    bundle.export_bundle(up, ds, tmp_path / "up.kobold")
    expected = state_hash.state_hash(up, ds)

    # a follower that gets the upstream's log first (decision included) but not yet the fork's events
    with Store.open(tmp_path / "follower") as follower:
        bundle.import_bundle(follower, tmp_path / "up.kobold")
        assert state_hash.state_hash(follower, ds) == expected
        assert proposals.datasets_to_fetch(follower) == [fork]  # to verify the accepted values' origins
        bundle.import_bundle(follower, tmp_path / "p.kobold")
        assert proposals.datasets_to_fetch(follower) == []
        assert state_hash.state_hash(follower, ds) == expected
        blame = history.blame(follower, ds, "SeedVariety", ids[0])["variety_name"]
        assert blame["author"] == contrib.identity.pubkey and blame["verified"] is True

    # another one that gets the proposal first (open, reviewable) and the decision afterwards
    with Store.open(tmp_path / "second") as second:
        bundle.import_bundle(second, tmp_path / "seeds.kobold")
        bundle.import_bundle(second, tmp_path / "p.kobold")
        assert [x["status"] for x in proposals.listing(second, ds)] == ["open"]
        assert proposals.datasets_to_fetch(second) == []
        bundle.import_bundle(second, tmp_path / "up.kobold")
        assert state_hash.state_hash(second, ds) == expected
        assert [x["status"] for x in proposals.listing(second, ds)] == ["accepted"]


def test_a_proposal_whose_events_have_not_arrived_is_listed_but_not_reviewable(
    two_stores: Any, tmp_path: Path
) -> None:
    up, contrib, ds, ids = two_stores
    fork = forks.fork_dataset(contrib, ds)
    records.update_record(contrib, fork, "SeedVariety", ids[0], {"variety_name": "Mine"})
    p = proposals.create(contrib, fork)
    path = tmp_path / "p.kobold"
    proposals.export_bundle(contrib, p.id, path)
    _rewrite(path, lambda lines: [x for x in lines if x.get("kind") in (None, 4870, 4874)])
    bundle.import_bundle(up, path)
    (item,) = proposals.listing(up, ds)
    assert item["status"] == "open" and item["missing"] == 1
    assert proposals.datasets_to_fetch(up) == [fork]
    with pytest.raises(Exception, match="cannot be reviewed yet"):
        merge.review_proposal(up, p.id)


def kobold(home: Path, capsys: pytest.CaptureFixture[str], *args: str, ok: bool = True) -> Any:
    capsys.readouterr()
    code = main([*args, "--home", str(home), "--json"])
    out = capsys.readouterr()
    assert (code == 0) == ok, out.err
    return json.loads(out.out) if ok else out.err


def test_the_cli_forks_proposes_reviews_and_accepts_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    ds = kobold(home, capsys, "demo")["id"]
    fork = kobold(home, capsys, "fork", ds, "--name", "Mine")
    assert fork["origin"]["dataset"] == ds
    rows = kobold(home, capsys, "record", "list", ds, "SeedVariety", "--limit", "2")["records"]
    a, b = rows[0]["_id"], rows[1]["_id"]
    kobold(home, capsys, "record", "update", "Mine", "SeedVariety", a, "variety_name=Fork A")
    kobold(home, capsys, "record", "update", "Mine", "SeedVariety", b, "variety_name=Fork B")
    kobold(home, capsys, "record", "update", ds, "SeedVariety", a, "variety_name=Up A")
    p = kobold(
        home, capsys, "propose", "Mine", "--title", "Two names", "--output", str(tmp_path / "p.kobold")
    )
    shown = kobold(home, capsys, "proposals", "show", p["id"][:10])
    assert shown["review"]["counts"]["conflict"] == 1 and shown["review"]["counts"]["changed"] == 1
    err = kobold(home, capsys, "proposals", "accept", p["id"], ok=False)
    assert "unresolved" in err
    got = kobold(home, capsys, "proposals", "accept", p["id"], "--only", b, "--message", "b only")
    assert got["status"] == "partial" and got["records"] == 1
    listed = kobold(home, capsys, "proposals", "list", "Mine")
    assert listed[0]["status"] == "partial" and listed[0]["message"] == "b only"
    shown = kobold(home, capsys, "dataset", "show", ds)
    assert shown["lineage"]["forks"] == [{"id": fork["id"], "name": "Mine"}]
    assert shown["lineage"]["merges"][0]["status"] == "partial"
    assert kobold(home, capsys, "dataset", "show", "Mine")["lineage"]["origin"] == ds
    pulled = kobold(home, capsys, "pull-upstream", "Mine", "--prefer", "fork")
    assert pulled["status"] == "partial"  # the fork kept its own value of the conflicting field
    assert (
        kobold(home, capsys, "record", "show", "Mine", "SeedVariety", a)["record"]["variety_name"] == "Fork A"
    )

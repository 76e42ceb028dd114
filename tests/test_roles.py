"""Roles and tribes through the CLI; petnames shown wherever an author appears."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from engine import datasets, history, ingest, maintenance, names, records, roles
from engine.errors import ValidationError
from engine.store import Store
from kobold_tui.cli import main

SCHEMA = [
    {"resource": "Supplier", "fields": {"name": "string"}},
    {"resource": "Variety", "fields": {"name": "string"}},
]


def kobold(home: Path, capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> Any:
    capsys.readouterr()
    got = main([*args, "--home", str(home), "--json"])
    out = capsys.readouterr()
    assert got == code, out.err
    return json.loads(out.out) if code == 0 else out.err


@pytest.fixture
def homes(tmp_path: Path) -> tuple[Path, Path, str, str]:
    owner, friend = tmp_path / "owner", tmp_path / "friend"
    with Store.open(owner) as s:
        ds = datasets.create_dataset(s, "Seeds", visibility="public")
        datasets.apply_schema(s, ds, SCHEMA)
    with Store.open(friend) as f:
        npub = f.identity.npub
    return owner, friend, ds, npub


def test_grant_list_and_revoke_through_the_cli(homes: tuple[Path, Path, str, str], capsys: Any) -> None:
    owner, _, _, npub = homes
    kobold(owner, capsys, "role", "grant", "Seeds", npub, "contributor", "--resource", "Supplier")
    listed = kobold(owner, capsys, "role", "list", "Seeds")
    assert [(m["role"], m["resources"]) for m in listed] == [("owner", None), ("contributor", ["Supplier"])]
    assert listed[1]["npub"] == npub
    kobold(owner, capsys, "role", "revoke", "Seeds", npub)
    assert [m["role"] for m in kobold(owner, capsys, "role", "list", "Seeds")] == ["owner"]
    err = kobold(owner, capsys, "role", "revoke", "Seeds", npub, code=1)
    assert "holds no role in this dataset; nothing to revoke" in err
    err = kobold(owner, capsys, "role", "grant", "Seeds", npub, "admin", code=1)
    assert "A role is one of owner, maintainer, contributor, not 'admin'." in err
    err = kobold(owner, capsys, "role", "grant", "Seeds", npub, "contributor", "--resource", "Nope", code=1)
    assert "no resource 'Nope'" in err


def test_a_tribe_is_granted_at_once_and_petnames_replace_npubs(
    homes: tuple[Path, Path, str, str], tmp_path: Path, capsys: Any
) -> None:
    owner, friend, ds, npub = homes
    with Store.open(tmp_path / "third") as t:
        other = t.identity.npub
    kobold(owner, capsys, "tribe", "add", "garden", npub, "--petname", "Ana")
    kobold(owner, capsys, "tribe", "add", "garden", other, "--petname", "Bo")
    assert [m["petname"] for m in kobold(owner, capsys, "tribe", "list")[0]["members"]] == ["Ana", "Bo"]
    kobold(owner, capsys, "role", "grant", "Seeds", "--tribe", "garden", "contributor")
    listed = kobold(owner, capsys, "role", "list", "Seeds")
    assert sorted(m["name"] for m in listed if m["role"] == "contributor") == ["Ana", "Bo"]
    # the friend writes; the owner sees "Ana" in history, blame and the log
    with Store.open(owner) as s, Store.open(friend) as f:
        ingest.ingest(f, ingest.all_events(s, ds))
        rid = records.create_record(f, ds, "Supplier", {"name": "Riverside"})
        ingest.ingest(s, ingest.all_events(f, ds))
        assert history.history(s, ds, "Supplier", rid)[0].to_dict()["author_short"] == "Ana"
        assert history.blame(s, ds, "Supplier", rid)["name"]["author_name"] == "Ana"
        assert maintenance.log(s, ds, 1)[0]["author_short"] == "Ana"
    shown = kobold(owner, capsys, "record", "history", "Seeds", "Supplier", rid)
    assert shown[0]["author_short"] == "Ana"


def test_a_petname_can_stand_for_an_npub_and_clashes_are_refused(
    homes: tuple[Path, Path, str, str], capsys: Any
) -> None:
    owner, _, _, npub = homes
    kobold(owner, capsys, "tribe", "add", "garden", npub, "--petname", "Ana")
    kobold(owner, capsys, "role", "grant", "Seeds", "Ana", "maintainer")
    assert kobold(owner, capsys, "role", "list", "Seeds")[1]["role"] == "maintainer"
    with Store.open(owner) as s, pytest.raises(ValidationError, match="already names"):
        names.add_to_tribe(s, "other", s.identity.npub, "Ana")


def test_profile_names_fill_in_when_there_is_no_petname(store: Store) -> None:
    someone = "ab" * 32
    assert names.display_name(store, someone).startswith("npub1")
    names.save_profile(store, someone, "Riverside Seed Library", 1_790_000_000)
    assert names.display_name(store, someone) == "Riverside Seed Library"
    names.add_to_tribe(store, "garden", someone, "River")
    assert names.display_name(store, someone) == "River"


def test_granting_a_role_already_held_changes_nothing(store: Store) -> None:
    ds = datasets.create_dataset(store, "Seeds")
    someone = "ab" * 32
    roles.grant(store, ds, [someone], "maintainer")
    with pytest.raises(ValidationError, match="Nothing to change"):
        roles.grant(store, ds, [someone], "maintainer")

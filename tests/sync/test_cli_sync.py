"""The replication commands as a script uses them: --json out, one clear sentence on bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kobold_tui.cli import main


def kobold(home: Path, capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> Any:
    capsys.readouterr()
    got = main([*args, "--home", str(home), "--json"])
    out = capsys.readouterr()
    assert got == code, out.err
    return json.loads(out.out) if code == 0 and out.out.strip() else out.err


def test_publish_follow_and_sync_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], local_relay: str
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    ds = kobold(a, capsys, "demo")["id"]
    assert kobold(a, capsys, "relay", "add", local_relay)["relays"] == [local_relay]
    assert [r["url"] for r in kobold(a, capsys, "relay", "list")] == [local_relay]
    published = kobold(a, capsys, "publish", ds)
    assert published["address"].startswith("naddr1")
    pushed = kobold(a, capsys, "sync", "--once")
    assert pushed["relays_ok"] == [local_relay] and pushed["sent"] > 0

    owner = kobold(a, capsys, "id")["npub"]
    followed = kobold(b, capsys, "follow", ds, "--owner", owner, "--relay", local_relay)
    assert followed["dataset"] == ds and followed["relays"] == [local_relay]
    pulled = kobold(b, capsys, "sync", "--once")
    assert pulled["received"] == pushed["sent"] and pulled["rejected"] == []
    assert (
        kobold(b, capsys, "dataset", "show", ds)["state_hash"]
        == kobold(a, capsys, "dataset", "show", ds)["state_hash"]
    )
    assert kobold(a, capsys, "relay", "list")[0]["last_ok"] is not None


def test_bad_replication_input_gets_one_clear_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "h"
    ds = kobold(home, capsys, "dataset", "create", "Secrets")["id"]
    err = kobold(home, capsys, "publish", ds, code=1)
    assert "private dataset never leaves this store" in err
    assert "is not a relay address" in kobold(home, capsys, "relay", "add", "http://example.org", code=1)
    assert "not a valid naddr" in kobold(home, capsys, "follow", "naddr1qqqq", code=1)
    assert "--owner" in kobold(home, capsys, "follow", "0" * 32, code=1)
    assert "is not a public key" in kobold(home, capsys, "member", "add", ds, "npub1" + "q" * 58, code=1)
    someone = kobold(tmp_path / "someone", capsys, "id")["npub"]
    assert "only matter for tribe datasets" in kobold(home, capsys, "member", "add", ds, someone, code=1)
    report = kobold(home, capsys, "sync", "--once")
    assert report["notes"] and "relay add" in report["notes"][0]


def test_members_of_a_tribe_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home, other = tmp_path / "h", tmp_path / "o"
    ds = kobold(home, capsys, "dataset", "create", "Tribe", "--visibility", "tribe")["id"]
    member = kobold(other, capsys, "id")
    added = kobold(home, capsys, "member", "add", ds, member["npub"])
    assert added["keys_granted"] == 1
    assert [m["pubkey"] for m in kobold(home, capsys, "member", "list", ds)] == [member["hex"]]
    removed = kobold(home, capsys, "member", "remove", ds, member["npub"])
    assert removed["epoch"] == 1
    assert "is not a member" in kobold(home, capsys, "member", "remove", ds, member["npub"], code=1)


def test_sync_without_once_follows_live_updates_until_interrupted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], local_relay: str
) -> None:
    import asyncio
    import signal
    import subprocess
    import sys
    import time

    from engine import records
    from engine.store import Store
    from sync.session import sync_once

    a, b = tmp_path / "a", tmp_path / "b"
    ds = kobold(a, capsys, "demo")["id"]
    kobold(a, capsys, "relay", "add", local_relay)
    kobold(a, capsys, "publish", ds)
    kobold(a, capsys, "sync", "--once")
    kobold(b, capsys, "follow", kobold(a, capsys, "dataset", "show", ds)["address"])
    exe = Path(sys.executable).parent / "kobold"
    live = subprocess.Popen([str(exe), "--home", str(b), "sync", "--json", "--interval", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        first = json.loads(live.stdout.readline())  # type: ignore[union-attr]
        assert first["received"] > 0
        with Store.open(a) as store:
            rid = records.create_record(store, ds, "Supplier", {"name": "Live Seeds"})
            asyncio.run(sync_once(store))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = json.loads(live.stdout.readline())  # type: ignore[union-attr]
            if line["received"]:
                break
        assert line["received"] == 1  # arrived through the live subscription, well before the 30 s interval
        assert time.monotonic() < deadline
    finally:
        live.send_signal(signal.SIGINT)
        assert live.wait(20) == 0
    assert kobold(b, capsys, "record", "show", ds, "Supplier", rid)["record"]["name"] == "Live Seeds"


def test_following_something_no_relay_has_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], local_relay: str
) -> None:
    home = tmp_path / "h"
    someone = kobold(tmp_path / "someone", capsys, "id")["npub"]
    kobold(home, capsys, "follow", "ab" * 16, "--owner", someone, "--relay", local_relay)
    report = kobold(home, capsys, "sync", "--once")
    assert report["relays_ok"] == [local_relay] and report["received"] == 0
    assert any("has nothing of dataset abababab yet" in n for n in report["notes"])

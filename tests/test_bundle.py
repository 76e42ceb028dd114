"""Bundles carry a dataset to another store: same state hash, idempotent, incremental, merging, private stays home."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from engine import csv_import, datasets, ingest, limits, maintenance, records, roles, state_hash
from engine.store import Store
from kobold_tui.cli import main
from sync import bundle
from tests.conftest import SEED_SCHEMA


def kobold(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    code = main([*args, "--home", str(home), "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def seed_csv(path: Path, n: int) -> Path:
    lines = ["species,variety_name,germination_days,price,organic,sow_from,status,notes"]
    lines += [f'Solanum {i % 7},Variety {i},{i % 30},{i % 9}.25,{str(i % 2 == 0).lower()},2026-03-0{1 + i % 9},'
              f'active,"line one, {i}"' for i in range(n)]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def owner(tmp_path: Path) -> tuple[Path, str]:
    home = tmp_path / "owner"
    with Store.open(home) as s:
        ds = datasets.create_dataset(s, "Seeds", visibility="public")
        datasets.apply_schema(s, ds, [SEED_SCHEMA])
        csv_import.import_csv(s, ds, "SeedVariety", seed_csv(tmp_path / "seeds.csv", 20_000))
    return home, ds


def test_a_20k_bundle_round_trips_through_the_cli_and_a_second_import_changes_nothing(
    owner: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home, ds = owner
    sent = kobold(home, capsys, "dataset", "show", ds)
    out = kobold(home, capsys, "bundle", "export", ds, "--output", str(tmp_path / "seeds.kobold"))
    assert out["events"] == sent["events"] and out["bytes"] > 0
    with gzip.open(tmp_path / "seeds.kobold", "rt") as f:
        header, first = json.loads(f.readline()), json.loads(f.readline())
    assert header["format"] == "kobold-bundle" and first["kind"] == 4870
    other = tmp_path / "other"
    got = kobold(other, capsys, "bundle", "import", str(tmp_path / "seeds.kobold"))
    assert (
        got["rejected"] == [] and got["applied"] == sent["events"] and got["state_hash"] == sent["state_hash"]
    )
    shown = kobold(other, capsys, "dataset", "show", ds)
    assert shown["state_hash"] == sent["state_hash"] and shown["history"] == "complete"
    assert shown["records"] == {"SeedVariety": 20_000}
    again = kobold(other, capsys, "bundle", "import", str(tmp_path / "seeds.kobold"))
    assert again["applied"] == 0 and again["duplicates"] == sent["events"]
    assert kobold(other, capsys, "verify", ds)["ok"] is True
    with Store.open(other) as s:  # the set-based projection equals a re-derivation from the log
        assert maintenance.rebuild(s, ds, full=True) == sent["state_hash"]


def test_a_newer_bundle_adds_only_what_is_new_and_local_changes_merge(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a") as a, Store.open(tmp_path / "b") as b:
        ds = datasets.create_dataset(a, "Seeds", visibility="public")
        datasets.apply_schema(a, ds, [SEED_SCHEMA])
        rid = records.create_record(a, ds, "SeedVariety", {"species": "Pisum", "variety_name": "Alderman"})
        roles.grant(a, ds, [b.identity.pubkey], "contributor")  # b may write its local change
        bundle.export_bundle(a, ds, tmp_path / "v1.kobold")
        assert bundle.import_bundle(b, tmp_path / "v1.kobold").report.applied == 4
        records.update_record(a, ds, "SeedVariety", rid, {"germination_days": 9})
        records.update_record(
            b, ds, "SeedVariety", rid, {"notes": "from b"}
        )  # a local change on the receiver
        bundle.export_bundle(a, ds, tmp_path / "v2.kobold")
        result = bundle.import_bundle(b, tmp_path / "v2.kobold")
        assert result.report.applied == 1 and result.report.duplicates == 4
        rec = records.get_record(b, ds, "SeedVariety", rid)
        assert (rec["germination_days"], rec["notes"]) == (9, "from b")
        bundle.export_bundle(b, ds, tmp_path / "back.kobold")
        bundle.import_bundle(a, tmp_path / "back.kobold")
        assert state_hash.state_hash(a, ds) == state_hash.state_hash(b, ds)


def test_a_private_dataset_leaves_only_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "h"
    with Store.open(home) as s:
        ds = datasets.create_dataset(s, "Diary")
    capsys.readouterr()
    assert main(["bundle", "export", ds, "--output", str(tmp_path / "d.kobold"), "--home", str(home)]) == 1
    assert "private" in capsys.readouterr().err and not (tmp_path / "d.kobold").exists()
    kobold(home, capsys, "bundle", "export", ds, "--output", str(tmp_path / "d.kobold"), "--include-private")
    assert (tmp_path / "d.kobold").exists()


def exported(owner: tuple[Path, str], path: Path) -> tuple[str, str]:
    """The owner's dataset written to a bundle at `path`: (dataset id, the owner's state hash)."""
    home, ds = owner
    with Store.open(home) as s:
        bundle.export_bundle(s, ds, path)
        return ds, state_hash.state_hash(s, ds)


def test_a_truncated_bundle_applies_what_it_holds_and_says_so(
    owner: tuple[Path, str], tmp_path: Path
) -> None:
    ds, sent = exported(owner, tmp_path / "full.kobold")
    data = (tmp_path / "full.kobold").read_bytes()
    (tmp_path / "cut.kobold").write_bytes(data[: len(data) // 2])
    with Store.open(tmp_path / "r") as r:
        result = bundle.import_bundle(r, tmp_path / "cut.kobold")
        assert result.truncated and "truncated" in result.report.rejected[-1][1]
        partial = state_hash.state_hash(r, ds)
        assert partial != sent and result.report.applied > 0
        again = bundle.import_bundle(r, tmp_path / "cut.kobold")  # nothing new: the state does not move
        assert again.report.applied == 0 and state_hash.state_hash(r, ds) == partial
        assert "truncated" in ingest.rejected(r, ds)[0]["reason"]
        assert bundle.import_bundle(r, tmp_path / "full.kobold").state_hash == sent


def test_a_bundle_refuses_events_of_another_dataset(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a") as a, Store.open(tmp_path / "b") as b:
        ds = datasets.create_dataset(a, "Seeds", visibility="public")
        other = datasets.create_dataset(a, "Other", visibility="public")
        bundle.export_bundle(a, ds, tmp_path / "x.kobold")
        lines = gzip.decompress((tmp_path / "x.kobold").read_bytes()).splitlines()
        lines.append(ingest.all_events(a, other)[0].encode())
        (tmp_path / "x.kobold").write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
        result = bundle.import_bundle(b, tmp_path / "x.kobold")
        assert result.report.applied == 1
        assert f"belongs to dataset {other}" in result.report.rejected[0][1]
        assert ingest.rejected(b, ds)[0]["reason"].startswith("the event belongs to dataset")


def test_a_file_that_is_not_a_bundle_gets_one_clear_sentence(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a,b\n")
    with Store.open(tmp_path / "h") as s, pytest.raises(bundle.BundleError, match="not a Kobold bundle"):
        bundle.import_bundle(s, tmp_path / "x.csv")


def test_bundle_lines_split_across_chunks_and_overlong_lines_are_marked() -> None:
    long = b"y" * (limits.MAX_LINE_BYTES + 10)
    data = b"first\nsec" + b"ond\n" + long + b"\nthird\n\nlast"
    chunks = [data[i : i + 300_000] for i in range(0, len(data), 300_000)]
    lines = list(bundle._split_lines(iter(chunks)))
    assert lines == [b"first", b"second", bundle._TOO_LONG, b"third", b"", b"last"]


def test_a_bundle_of_two_gzip_members_or_with_trailing_junk_reads_fully(
    owner: tuple[Path, str], tmp_path: Path
) -> None:
    _, sent = exported(owner, tmp_path / "full.kobold")
    lines = gzip.decompress((tmp_path / "full.kobold").read_bytes()).splitlines(keepends=True)
    half = len(lines) // 2
    (tmp_path / "two.kobold").write_bytes(
        gzip.compress(b"".join(lines[:half])) + gzip.compress(b"".join(lines[half:]))
    )
    (tmp_path / "junk.kobold").write_bytes((tmp_path / "full.kobold").read_bytes() + b"not gzip at all")
    with Store.open(tmp_path / "r1") as r:
        result = bundle.import_bundle(r, tmp_path / "two.kobold")
        assert not result.truncated and result.state_hash == sent and not result.report.rejected
    with Store.open(tmp_path / "r2") as r:
        result = bundle.import_bundle(r, tmp_path / "junk.kobold")
        assert result.truncated and result.state_hash == sent

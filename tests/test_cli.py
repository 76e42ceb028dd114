"""The CLI contract scripts rely on: command names, --json shapes, one-sentence errors with non-zero exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kobold_tui.cli import main

ROOT = Path(__file__).resolve().parent.parent


class Kobold:
    def __init__(self, home: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.home, self.capsys = home, capsys

    def __call__(self, *args: str) -> Any:
        self.capsys.readouterr()
        code = main([*args, "--home", str(self.home), "--json"])
        out = self.capsys.readouterr()
        assert code == 0, out.err
        return json.loads(out.out)

    def fails(self, *args: str) -> str:
        self.capsys.readouterr()
        code = main([*args, "--home", str(self.home)])
        out = self.capsys.readouterr()
        assert code != 0 and out.out == ""
        return " ".join(out.err.split())


@pytest.fixture
def kobold(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Kobold:
    return Kobold(tmp_path / "home", capsys)


def test_identity_demo_and_dataset_listing(kobold: Kobold) -> None:
    ident = kobold("id")
    assert ident["npub"].startswith("npub1") and len(ident["hex"]) == 64
    demo = kobold("demo")["id"]
    assert kobold("demo")["id"] == demo
    listed = kobold("dataset", "list")
    assert listed[0]["name"] == "Community Seed Catalog" and listed[0]["records"] == {
        "SeedVariety": 30,
        "Supplier": 6,
    }
    show = kobold("dataset", "show", "Community Seed Catalog")
    assert (
        show["id"] == demo and show["type"] == "org.tribes.scv.seed-catalog" and show["owner"] == ident["hex"]
    )
    assert len(show["heads"]) == 1 and show["events"] == 4 and len(show["state_hash"]) == 64


def test_a_whole_session_through_the_cli(kobold: Kobold, tmp_path: Path) -> None:
    ds = kobold("dataset", "create", "Tools", "--visibility", "public")["id"]
    schema = tmp_path / "tool.yaml"
    schema.write_text("resource: Tool\nfields:\n  name: {type: string, required: true}\n  count: integer\n")
    assert kobold("schema", "apply", ds, str(schema))["applied"][0]["resource"] == "Tool"
    assert kobold("schema", "show", ds)[0]["fields"][1]["type"] == "integer"
    rid = kobold("record", "add", "Tools", "Tool", "name=Spade", "count=2")["id"]
    kobold("record", "add", "Tools", "Tool", "name=Rake", "count=5")
    kobold("record", "update", "Tools", "Tool", rid, "count=3")
    listed = kobold("record", "list", "Tools", "Tool", "--sort", "-count", "--filter", "count>1")
    assert [r["name"] for r in listed["records"]] == ["Rake", "Spade"] and listed["matched"] == 2
    assert kobold("record", "show", "Tools", "Tool", rid)["record"]["count"] == 3
    hist = kobold("record", "history", "Tools", "Tool", rid)
    assert [h["op"] for h in hist] == ["create", "update"] and hist[1]["changes"]["count"] == {
        "old": 2,
        "new": 3,
    }
    log = kobold("log", "Tools")
    assert log[0]["type"] == "changeset" and log[0]["event"]["sig"] and log[-1]["type"] == "genesis"
    verified = kobold("verify", "Tools")
    assert verified["ok"] and verified["events"] == len(log)
    assert kobold("rebuild", "Tools")["state_hash"] == verified["state_hash"]
    kobold("record", "delete", "Tools", "Tool", rid)
    assert kobold("record", "list", "Tools", "Tool")["matched"] == 1
    csv = tmp_path / "tools.csv"
    csv.write_text("name,count\nHoe,1\nTrowel,4\n")
    assert kobold("import", "Tools", "Tool", str(csv)) == {"imported": 2}
    out = tmp_path / "out.json"
    assert (
        main(
            ["export", "Tools", "Tool", "--format", "json", "--output", str(out), "--home", str(kobold.home)]
        )
        == 0
    )
    assert sorted(r["name"] for r in json.loads(out.read_text())) == ["Hoe", "Rake", "Trowel"]


@pytest.mark.parametrize(
    "args, message",
    [
        (("dataset", "show", "nope"), "No dataset called 'nope' in this store"),
        (("record", "add", "Demo", "SeedVariety", "species"), "is not FIELD=VALUE"),
        (
            ("record", "add", "Demo", "SeedVariety", "species=x", "variety_name=y", "germination_days=soon"),
            "'soon' does not fit: expected a whole number",
        ),
        (("record", "add", "Demo", "Nothing", "a=b"), "no resource 'Nothing'"),
        (("record", "update", "Demo", "SeedVariety", "0000000000", "species=x"), "No SeedVariety record"),
        (("schema", "apply", "Demo", "/nonexistent.yaml"), "Cannot read /nonexistent.yaml"),
        (("import", "Demo", "SeedVariety", "/nonexistent.csv"), "No file /nonexistent.csv"),
    ],
)
def test_errors_are_one_sentence_on_stderr_with_a_nonzero_exit(
    kobold: Kobold, args: tuple[str, ...], message: str
) -> None:
    demo = kobold("demo")["id"]
    kobold("dataset", "update", demo, "--name", "Demo")
    err = kobold.fails(*args)
    assert message in err and "Traceback" not in err


def test_the_console_script_runs_in_a_fresh_process(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "kobold"
    out = subprocess.run(
        [str(exe), "--home", str(tmp_path), "id", "--json"], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout)["npub"].startswith("npub1")
    bad = subprocess.run(
        [str(exe), "--home", str(tmp_path), "dataset", "show", "x"], capture_output=True, text=True
    )
    assert (
        bad.returncode == 1
        and bad.stderr.strip().startswith("error: No dataset")
        and len(bad.stderr.splitlines()) == 1
    )


def test_formula_test_prints_values_and_errors(kobold: Kobold, tmp_path: Path) -> None:
    ds = kobold("dataset", "create", "F")["id"]
    schema = tmp_path / "r.yaml"
    schema.write_text(
        "resource: R\nfields:\n  n: integer\ncomputed_fields:\n  half:\n    type: decimal\n"
        "    formula: 'export function compute(record) { if (record.n === 0) throw new Error(\"zero\"); return record.n / 2 }'\n"
    )
    kobold("schema", "apply", ds, str(schema))
    one = kobold("record", "add", ds, "R", "n=3")["id"]
    zero = kobold("record", "add", ds, "R", "n=0")["id"]
    results = {r["record"]: r for r in kobold("formula", "test", ds, "R", "half")}
    assert results[one]["value"] == 1.5
    assert "zero" in results[zero]["error"] and results[zero]["error"].startswith("#ERR")
    shown = kobold("record", "show", ds, "R", zero)
    assert shown["computed"] == {"half": None} and "zero" in shown["errors"]["half"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("resource: R\nfields:\n  n: integer\ncomputed_fields:\n  x: {formula: 'record.n +'}\n")
    assert "does not compile" in kobold.fails("schema", "apply", ds, str(bad))

"""A killed process loses nothing acknowledged and leaves nothing half-applied."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from bench.seed_data import write_seed_csv
from engine import datasets, maintenance, query, records, state_hash
from engine.store import Store
from tests.conftest import SEED_SCHEMA

ROOT = Path(__file__).resolve().parent.parent


def test_killing_an_import_midway_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with Store.open(home) as s:
        ds = datasets.create_dataset(s, "Seeds")
        datasets.apply_schema(s, ds, [{**SEED_SCHEMA, "fields": {
            k: v for k, v in SEED_SCHEMA["fields"].items() if k in ("species", "variety_name", "germination_days")}}])  # fmt: skip
        rid = records.create_record(s, ds, "SeedVariety", {"species": "kept", "variety_name": "acknowledged"})
        before = state_hash.state_hash(s, ds)
    csv = tmp_path / "big.csv"
    write_seed_csv(tmp_path / "full.csv", 200_000)
    with open(tmp_path / "full.csv") as src, open(csv, "w") as dst:
        for line in src:
            dst.write(",".join(line.split(",")[:3]) + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            from pathlib import Path
            from engine.store import Store
            from engine import csv_import
            with Store.open({str(home)!r}) as s:
                def progress(phase, done, total):
                    print(phase, flush=True)
                csv_import.import_csv(s, {ds!r}, "SeedVariety", Path({str(csv)!r}), progress)
        """)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "writing":
            time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with Store.open(home) as s:
        assert state_hash.state_hash(s, ds) == before
        assert maintenance.verify(s, ds).ok
        assert query.count(s, ds, query.Query("SeedVariety")) == 1
        assert records.get_record(s, ds, "SeedVariety", rid)["variety_name"] == "acknowledged"

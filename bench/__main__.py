"""`make bench`: every benchmark case at every size, each in its own process; results to bench/results/."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from bench.cases import CASES

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--only", help="comma-separated case names")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "data")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    names = args.only.split(",") if args.only else list(CASES)
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        for name in names:
            t = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "bench.one", name, str(n), str(args.work)],
                capture_output=True, text=True, cwd=ROOT,
            )  # fmt: skip
            if proc.returncode:
                print(f"{name:>14} {n:>9,}  FAILED\n{proc.stderr}", file=sys.stderr)
                return 1
            result = {"case": name, "n": n, **json.loads(proc.stdout.strip().splitlines()[-1])}
            results.append(result)
            shown = {
                k: (round(v, 3) if isinstance(v, float) else v)
                for k, v in result.items()
                if k not in ("case", "n")
            }
            print(f"{name:>14} {n:>9,}  {shown}  ({time.perf_counter() - t:.1f}s wall)", flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

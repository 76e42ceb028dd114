"""Run one benchmark case in this process and print its result as JSON (with this process's peak memory)."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from bench.cases import CASES

if __name__ == "__main__":
    name, n, work = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    result = CASES[name](n, work)
    result["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))

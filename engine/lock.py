"""One process at a time per store: an flock'ed file naming its holder, so a second one gets a clear message."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from typing import IO

from engine.errors import StoreInUse
from engine.paths import LOCK_FILE


class StoreLock:
    def __init__(self, home: Path) -> None:
        self.path = home / LOCK_FILE
        self._fh: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 - held for the store's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise StoreInUse(
                f"The store {self.path.parent} is in use by {holder}; close that first or use another --home."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"kobold (pid {os.getpid()}: {' '.join(_short_argv())})")
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is not None:
            self._fh.seek(0)
            self._fh.truncate()
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def _short_argv() -> list[str]:
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv else ["python"]
    return argv[:6]

"""A store: one directory with one DuckDB file, the identity key and config.toml.

The store is the only writer of the event log. Local writes and events from outside both end in
`apply.apply_events`, inside one transaction with their projection update.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import duckdb

from engine import db
from engine.config import Config
from engine.errors import Ambiguous, KoboldError, NotFound, StoreInUse
from engine.identity import Identity, load_or_create
from engine.lock import StoreLock
from engine.paths import DB_FILE, resolve_home

if TYPE_CHECKING:
    from formulas import FormulaRuntime


class Store:
    """An open store. Use `Store.open(home)` as a context manager."""

    def __init__(self, home: Path, con: duckdb.DuckDBPyConnection, lock: StoreLock | None) -> None:
        self.home = home
        self.con = con
        self._lock = lock
        self.config = Config.load(home)
        self.identity: Identity = load_or_create(home)
        self.now: Callable[[], int] = lambda: int(time.time())
        self._depth = 0
        self._checkpoint_on_commit = False
        # DuckDB connections are not safe to share between threads: a UI that runs engine calls in worker
        # threads holds this lock around each call (queries release the GIL, so the UI stays responsive).
        self.lock = threading.RLock()
        self._definitions: dict[str, list[dict[str, Any]]] = {}
        self._formulas: FormulaRuntime | None = None
        # Table groups other layers create on first use (sync's), so their DDL runs once per open store.
        self.prepared: set[str] = set()
        # Derived values other modules cache per dataset (roles.current_state); dropped on rollback.
        self.memo: dict[tuple[str, str], Any] = {}

    @property
    def formulas(self) -> FormulaRuntime:
        """The formula sandbox, started on first use (a thread of its own)."""
        if self._formulas is None:
            from formulas import FormulaRuntime, Limits

            self._formulas = FormulaRuntime(Limits(time_ms_per_record=self.config.formula_time_ms))
        return self._formulas

    def definitions(self, dataset_id: str) -> list[dict[str, Any]]:
        """Current resource definitions of a dataset (removed ones included), cached until a schema change."""
        cached = self._definitions.get(dataset_id)
        if cached is None:
            rows = self.con.execute(
                "SELECT definition FROM resources WHERE dataset_id = ? ORDER BY key", [dataset_id]
            ).fetchall()
            cached = self._definitions[dataset_id] = [json.loads(r[0]) for r in rows]
        return cached

    def prepare(self, group: str, ddl: str) -> None:
        """Run a layer's `CREATE … IF NOT EXISTS` DDL once per open store (DDL costs a millisecond a call)."""
        if group not in self.prepared:
            self.con.execute(ddl)
            self.prepared.add(group)

    def forget_definitions(self, dataset_id: str | None = None) -> None:
        if dataset_id is None:
            self._definitions.clear()
        else:
            self._definitions.pop(dataset_id, None)

    @classmethod
    def open(cls, home: str | Path | None = None, *, memory: bool = False) -> Store:
        """Open (creating if needed) the store at `home`; `memory=True` keeps the database in memory (tests, demos)."""
        path = resolve_home(home)
        lock: StoreLock | None = None
        if not memory:
            lock = StoreLock(path)
            lock.acquire()
        try:
            path.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(":memory:" if memory else str(path / DB_FILE))
        except duckdb.IOException as exc:
            if lock:
                lock.release()
            if "lock" in str(exc).lower():
                raise StoreInUse(f"The store {path} is in use by another program; close it first.") from None
            raise KoboldError(f"Cannot open the store at {path}: {exc}.") from None
        except BaseException:
            if lock:
                lock.release()
            raise
        try:
            _bound_memory(con, path)
            db.create_tables(con)
            return cls(path, con, lock)
        except BaseException:
            # A bad key file or config must not leave the database open or the store locked.
            con.close()
            if lock:
                lock.release()
            raise

    def close(self) -> None:
        if self._formulas is not None:
            self._formulas.close()
        try:
            self.con.close()
        finally:
            if self._lock:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One DuckDB transaction; nested uses join the outer one. Any exception rolls everything back."""
        if self._depth:
            self._depth += 1
            try:
                yield self.con
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield self.con
        except BaseException:
            self._depth = 0
            self._checkpoint_on_commit = False
            self.con.execute("ROLLBACK")
            self._definitions.clear()
            self.prepared.clear()  # tables created inside the transaction are gone
            self.memo.clear()
            raise
        self._depth = 0
        self.con.execute("COMMIT")
        if self._checkpoint_on_commit:
            self._checkpoint_on_commit = False
            self.con.execute("CHECKPOINT")

    def checkpoint_after_commit(self) -> None:
        """Checkpoint once the current transaction commits.

        DuckDB 2.0 bug, reproduced at 1M rows: after a transaction that creates a table and bulk-inserts into it
        from temp tables (a bundle import into a fresh store), every scan of that table sees no rows until the
        next checkpoint. The bulk apply path asks for one; it costs ~1 s after a million rows, ms after a few.
        """
        self._checkpoint_on_commit = True

    def dataset_id(self, ref: str) -> str:
        """Resolve a dataset id, id prefix or unique name to its id."""
        rows = self.con.execute(
            "SELECT id FROM datasets WHERE id = ? OR name = ? OR (length(?) >= 6 AND starts_with(id, ?))",
            [ref, ref, ref, ref],
        ).fetchall()
        ids: list[str] = sorted({str(r[0]) for r in rows})
        if not ids:
            raise NotFound(f"No dataset called {ref!r} in this store; `kobold dataset list` shows them.")
        if len(ids) > 1:
            exact = [i for i in ids if i == ref]
            if exact:
                return exact[0]
            raise Ambiguous(f"{ref!r} matches {len(ids)} datasets; use the dataset id instead.")
        return ids[0]


def _bound_memory(con: duckdb.DuckDBPyConnection, home: Path) -> None:
    """Cap DuckDB's memory and let it spill to the store's tmp/ instead: its default (80% of RAM) lets one big
    import or bundle take the whole machine. `KOBOLD_DUCKDB_MEMORY` overrides the cap (e.g. "8GB")."""
    import os

    limit = os.environ.get("KOBOLD_DUCKDB_MEMORY") or f"{max(1, min(4, _ram_gib() // 4))}GB"
    con.execute(f"SET memory_limit = '{limit}'")
    # DuckDB draws its own progress bar on stdout for long queries; it would corrupt `--json` output.
    con.execute("SET enable_progress_bar = false")
    con.execute(f"SET temp_directory = '{str(home / 'tmp').replace(chr(39), chr(39) * 2)}'")


def _ram_gib() -> int:
    import os

    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30)
    except (ValueError, OSError):
        return 8

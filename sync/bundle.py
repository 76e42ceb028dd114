"""Bundle files: a dataset's signed events in one gzip file, for USB sticks and e-mail.

Format (docs/PROTOCOL.md, "Bundles"): gzip of UTF-8 lines. Line 1 is a header object (a hint for progress
bars and messages, never trusted); every further line is one signed event, parents before children: the
genesis, the manifest, schema and changeset events by (clock, id) — or the genesis, a snapshot (header then
chunks) and the events after it. The receiver verifies every event as if it came from a stranger.
"""

from __future__ import annotations

import gzip
import json
import queue
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from engine import datasets, ingest, snapshot, state_hash
from engine.errors import KoboldError
from engine.limits import MAX_LINE_BYTES

if TYPE_CHECKING:
    from engine.store import Store

FORMAT = "kobold-bundle"
FORMAT_VERSION = 1
BATCH_EVENTS = 50_000  # events handed to one ingest call (one transaction); a snapshot is never split

Progress = Callable[[str, int, int], None]


class BundleError(KoboldError):
    """A bundle that cannot be written or read at all."""


@dataclass
class BundleReport:
    dataset: str
    name: str
    events: int = 0
    report: ingest.IngestReport = field(default_factory=ingest.IngestReport)
    truncated: bool = False
    state_hash: str = ""
    history: str = "complete"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "name": self.name, "events_read": self.events, "truncated": self.truncated,
            **self.report.to_dict(), "state_hash": self.state_hash, "history": self.history,
        }  # fmt: skip


def export_bundle(
    store: Store, dataset_id: str, path: Path, *, use_snapshot: bool = False, include_private: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Write the dataset's events (or a snapshot and what follows it) to `path`; returns the header written."""
    tick = progress or (lambda phase, done, total: None)
    info = datasets.info(store, dataset_id)
    if info.visibility == "private" and not include_private:
        raise BundleError(
            f"{info.name} is private: a private dataset never leaves this store. If you really mean to hand it "
            "over, export with --include-private (the file holds every record in the clear)."
        )
    con = store.con
    genesis = con.execute(
        "SELECT raw FROM events WHERE dataset_id = ? AND kind = 4870", [dataset_id]
    ).fetchone()
    if genesis is None:
        raise BundleError(f"{info.name} has no genesis event in this store; it cannot be exported.")
    snap: list[str] = []
    after_clock = -1
    if use_snapshot:
        tick("signing snapshot", 0, 1)
        if info.owner == store.identity.pubkey:
            snap = [ev.to_json() for ev in snapshot.create(store, dataset_id)]
        else:
            snap = snapshot.stored_snapshot(store, dataset_id)
            if not snap:
                raise BundleError(
                    "Only the dataset's owner can sign a snapshot and this store holds none; export without --snapshot."
                )
        after_clock = int(json.loads(snap[0])["tags"][2][1])
    base = snapshot.base_of(store, dataset_id)
    if not use_snapshot and base is not None:
        raise BundleError(
            f"{info.name} has only partial history here (it started from a snapshot); export with --snapshot, "
            "or import its full history first."
        )
    total_row = con.execute(
        "SELECT count(*) FROM events WHERE dataset_id = ? AND kind <> 4870 AND clock > ?",
        [dataset_id, after_clock],
    ).fetchone()
    total = int(total_row[0]) if total_row else 0
    header = {
        "format": FORMAT, "version": FORMAT_VERSION, "dataset": dataset_id, "name": info.name,
        "snapshot": bool(snap), "events": 1 + len(snap) + total, "state_hash": state_hash.state_hash(store, dataset_id),
    }  # fmt: skip
    tmp = path.with_name(path.name + ".part")
    with gzip.open(tmp, "wb", compresslevel=1) as out:
        out.write(_line(json.dumps(header, separators=(",", ":"))))
        out.write(_line(genesis[0]))
        for raw in snap:
            out.write(_line(raw))
        cur = con.execute(
            "SELECT raw FROM events WHERE dataset_id = ? AND kind <> 4870 AND clock > ? ORDER BY clock, id",
            [dataset_id, after_clock],
        )
        done = 0
        while rows := cur.fetchmany(1000):
            out.write(b"".join(_line(r[0]) for r in rows))
            done += len(rows)
            tick("writing", done, total)
    tmp.replace(path)
    return header


def _line(text: str) -> bytes:
    return text.encode() + b"\n"


def read_bundle(path: Path) -> tuple[dict[str, Any], Iterator[bytes], list[bool]]:
    """The header and an iterator over the event lines; `truncated[0]` turns true if the file ends early.

    The lines are decompressed by a thread ahead of the reader: zlib releases the GIL while it inflates, so
    decompressing overlaps with verifying the lines already read (about 1 s of 3 for a million records).
    """
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise BundleError(
            f"No file {path}; give the path of a bundle written by `kobold bundle export`."
        ) from None
    truncated = [False]
    lines = _split_lines(_inflate(handle, truncated))
    try:
        first = next(lines, b"")
    except zlib.error:
        handle.close()
        raise BundleError(f"{path} is not a Kobold bundle (not a gzip file).") from None
    try:
        header = json.loads(first)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        handle.close()
        raise BundleError(f"{path} is not a Kobold bundle (its first line is not a bundle header).")
    if header.get("version") != FORMAT_VERSION:
        handle.close()
        raise BundleError(
            f"{path} is bundle format {header.get('version')!r}; this Kobold reads {FORMAT_VERSION}."
        )
    return header, _read_ahead(lines, handle), truncated


_CHUNK = 1 << 20
_TOO_LONG = b"x" * (MAX_LINE_BYTES + 1)  # stands for a line longer than any event may be; ingest refuses it


def _inflate(handle: BinaryIO, truncated: list[bool]) -> Iterator[bytes]:
    """The decompressed bytes of a gzip file (of one or more members), in chunks. A stream that ends early or
    turns to garbage sets `truncated[0]` and ends; garbage before any data raises zlib.error."""
    d = zlib.decompressobj(wbits=31)
    produced = False
    try:
        data = handle.read(_CHUNK)
        while data:
            out = d.decompress(data)
            if out:
                produced = True
                yield out
            if d.eof:
                data = d.unused_data or handle.read(_CHUNK)
                if data:
                    d = zlib.decompressobj(wbits=31)  # the next gzip member
                continue
            data = handle.read(_CHUNK)
        if not d.eof:
            truncated[0] = True
    except zlib.error:
        if not produced:
            raise
        truncated[0] = True


def _split_lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines of the chunks, without their newline; a line longer than MAX_LINE_BYTES comes out as `_TOO_LONG` (its
    bytes are not kept). A last line cut off by a truncated file comes out as it is; the caller drops it."""
    rest = b""
    skipping = False  # inside a line already known to be too long
    for chunk in chunks:
        parts = chunk.split(b"\n")
        if skipping:
            if len(parts) == 1:
                continue
            skipping = False
            parts[0] = _TOO_LONG
        else:
            parts[0] = rest + parts[0]
        rest = parts.pop()
        for line in parts:
            yield line if len(line) <= MAX_LINE_BYTES else _TOO_LONG
        if len(rest) > MAX_LINE_BYTES:
            skipping, rest = True, b""
    if skipping:
        yield _TOO_LONG
    elif rest:
        yield rest


def _read_ahead(lines: Iterator[bytes], handle: BinaryIO) -> Iterator[bytes]:
    """`lines`, produced by a thread up to a few thousand lines ahead; the file closes when either side ends."""
    batches: queue.Queue[list[bytes] | BaseException | None] = queue.Queue(maxsize=16)
    stop = threading.Event()

    def put(item: list[bytes] | BaseException | None) -> bool:
        while not stop.is_set():
            try:
                batches.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            batch: list[bytes] = []
            for line in lines:
                batch.append(line)
                if len(batch) == 128:
                    if not put(batch):
                        return
                    batch = []
            if batch:
                put(batch)
            put(None)
        except BaseException as exc:  # handed to the reader, which raises it
            put(exc)
        finally:
            handle.close()

    worker = threading.Thread(target=produce, name="bundle-reader", daemon=True)
    worker.start()
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield from item
    finally:
        stop.set()
        worker.join()


def import_bundle(store: Store, path: Path, progress: Progress | None = None) -> BundleReport:
    """Verify and apply every event of a bundle; what fails is recorded with its reason and the rest applies."""
    header, lines, truncated = read_bundle(path)
    dataset = header.get("dataset")
    if not isinstance(dataset, str):
        raise BundleError(f"{path} does not name its dataset.")
    expected = int(header.get("events") or 0)
    tick = progress or (lambda phase, done, total: None)
    result = BundleReport(dataset, str(header.get("name", "")))
    batch: list[ingest.Prechecked] = []
    in_snapshot = False
    now = store.now()

    def flush() -> None:
        report = ingest.ingest(store, batch, dataset=dataset, progress=_later_phases(tick))
        _merge(result.report, report)
        batch.clear()

    line = b""
    for line in lines:
        if not line.strip():
            continue
        batch.append(ingest.precheck(line, now))  # as it is read: the reader thread inflates meanwhile
        result.events += 1
        if result.events % 256 == 0:
            tick("verifying", result.events, expected)
        in_snapshot = b'"kind":4876' in line[:400] or (in_snapshot and b'"kind":4876' in line)
        if len(batch) >= BATCH_EVENTS and not in_snapshot:
            flush()
    if truncated[0] and batch and not line.endswith(b"}"):
        batch.pop()  # the cut-off line: reported below as the truncation
        result.events -= 1
    flush()
    if truncated[0]:
        result.truncated = True
        reason = (
            f"the bundle file is truncated: only {result.events} of {expected or '?'} events could be read"
        )
        with store.transaction():
            ingest._reject(store, result.report, "", dataset, reason, None)
    exists = store.con.execute("SELECT 1 FROM datasets WHERE id = ?", [dataset]).fetchone()
    if exists:
        result.state_hash = state_hash.state_hash(store, dataset)
        result.history = snapshot.history_status(store, dataset)
        result.name = datasets.info(store, dataset).name
    return result


def _later_phases(tick: Progress) -> Progress:
    """Ingest's progress without its "verifying" phase: the bundle reports that itself, as it reads."""

    def inner(phase: str, done: int, n: int) -> None:
        if phase != "verifying":
            tick(phase, done, n)

    return inner


def _merge(into: ingest.IngestReport, part: ingest.IngestReport) -> None:
    into.applied += part.applied
    into.duplicates += part.duplicates
    into.pending = part.pending
    into.rejected += part.rejected
    into.snapshots += part.snapshots
    into.completed_history += part.completed_history

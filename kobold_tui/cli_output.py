"""How the CLI prints: JSON for scripts (`--json`), rich tables for people, errors as one sentence on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.query import jsonable

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=jsonable) + "\n")


def fail(message: str, code: int = 1) -> int:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return code


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for row in rows:
        t.add_row(*(cell(v) for v in row))
    out.print(t)


def cell(value: Any) -> str:
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def pairs(items: Sequence[tuple[str, Any]]) -> None:
    width = max((len(k) for k, _ in items), default=0)
    for k, v in items:
        out.print(f"[bold]{k.ljust(width)}[/]  {cell(v)}", soft_wrap=True)


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """A progress callback (phase, done, total) that draws a bar on a terminal and does nothing elsewhere."""
    if not enabled or not err.is_terminal:
        yield lambda phase, done, total: None
        return
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=err, transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("starting", total=1)

        def update(phase: str, done: int, total: int) -> None:
            bar.update(task, description=phase, completed=done, total=max(total, 1))

        yield update

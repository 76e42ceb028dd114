"""Text columns of DuckDB results as bytes straight from Arrow's buffers: no Python string per row.

A million short strings cost ~1 s to fetch as Python objects; as Arrow they arrive in one contiguous buffer per
batch, which sha256 or a join can read in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


def _views(array: Any) -> tuple[memoryview, memoryview, int]:
    """(offsets, data, index of the array's first row in offsets) of a string or large_string array."""
    import pyarrow as pa  # here, not at the top: it takes ~0.1 s to import and most commands never need it

    if array.type not in (pa.string(), pa.large_string()):
        array = array.cast(pa.large_string())
    offsets = memoryview(array.buffers()[1]).cast("i" if array.type == pa.string() else "q")
    data = array.buffers()[2]
    return offsets, memoryview(data if data is not None else b""), array.offset


def concatenated(array: Any) -> memoryview:
    """All values of a text array, concatenated."""
    if len(array) == 0:
        return memoryview(b"")
    offsets, data, first = _views(array)
    return data[offsets[first] : offsets[first + len(array)]]


def groups(arrays: Iterable[Any], sizes: Iterable[int]) -> Iterator[bytes]:
    """The rows of consecutive text arrays taken `size` at a time, each group's values joined into one bytes."""
    chunks = iter(arrays)
    array: Any = None
    offsets = data = memoryview(b"")
    first = pos = length = 0
    for size in sizes:
        parts = []
        while size:
            if pos == length:
                array = next(chunks)  # StopIteration here means fewer rows than the sizes add up to
                offsets, data, first = _views(array) if len(array) else (offsets, data, 0)
                pos, length = 0, len(array)
                continue
            take = min(size, length - pos)
            parts.append(data[offsets[first + pos] : offsets[first + pos + take]])
            pos += take
            size -= take
        yield b"".join(parts)

"""Every limit Kobold puts on data from outside, in one place: docs/PROTOCOL.md ("Limits") lists each of them,
and a test checks that the two agree. A limit exists so that one hostile file, relay or contributor cannot take
unbounded memory, time or disk, nor make two replicas decide differently; hitting one refuses the input with a
sentence that names the limit, and leaves the store as it was.
"""

from __future__ import annotations

# --- Events (engine/ingest.py, engine/content.py) ---
MAX_EVENT_BYTES = 1 << 20  # an event (or its content) above this is refused outright
MAX_FUTURE_SECONDS = 86_400  # created_at more than a day ahead of this store's clock is refused
MAX_PENDING = 100_000  # changesets held back waiting for their parents, all authors together

# --- Names and text ---
MAX_NAME = 64  # a resource, field, tribe or petname
MAX_MERGE_TEXT = 10_000  # a proposal's title or message, a decision's note

# --- Clocks and numbers in events (engine/content.py, engine/field_types.py) ---

# --- Schemas and values (engine/schema.py, engine/field_types.py, engine/computed.py) ---

# --- Held events and per-author quotas (engine/ingest.py) ---

# --- Roles ---
MAX_ASSIGNMENTS = 1000  # one event grants a whole tribe at once, but stays well under the event size limit

# --- Bundles and files (sync/bundle.py) ---
MAX_LINE_BYTES = MAX_EVENT_BYTES  # one line of a bundle is one event

# --- CSV files (engine/csv_import.py, engine/export.py) ---

# --- Relays (sync/) ---
MAX_RELAY_FRAME = 16 * 2**20  # one websocket message from a relay

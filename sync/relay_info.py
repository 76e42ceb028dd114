"""A relay's NIP-11 limits, with the defaults of common relays when it publishes none."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field

DEFAULT_MAX_LIMIT = 500  # nostr-sdk's LocalRelay and strfry serve at most 500 events per REQ
# Page size asked of a relay that publishes no limit: it clamps to its own maximum, and a large page makes
# it unlikely that one second holds more events than a page (time paging cannot get past that).
UNKNOWN_LIMIT_PAGE = 5000
DEFAULT_MAX_MESSAGE = 65_536


@dataclass(frozen=True)
class RelayLimits:
    max_limit: int = DEFAULT_MAX_LIMIT
    limit_published: bool = False
    max_message_length: int = DEFAULT_MAX_MESSAGE
    max_content_length: int | None = None
    created_at_lower_limit: int | None = None  # seconds before now
    created_at_upper_limit: int | None = None  # seconds after now
    supported_nips: list[int] = field(default_factory=list)
    name: str = ""

    @property
    def page_size(self) -> int:
        return self.max_limit if self.limit_published else UNKNOWN_LIMIT_PAGE

    def refusal(self, raw: str, content_length: int, created_at: int, now: int) -> str | None:
        """Why this relay would refuse the event (so it is not sent), or None."""
        if len(raw.encode()) + 16 > self.max_message_length:
            return f"the event is {len(raw.encode())} bytes; the relay accepts messages up to {self.max_message_length}"
        if self.max_content_length is not None and content_length > self.max_content_length:
            return f"the content is {content_length} characters; the relay accepts up to {self.max_content_length}"
        if self.created_at_lower_limit is not None and created_at < now - self.created_at_lower_limit:
            return f"the event is older than the relay accepts ({self.created_at_lower_limit} s)"
        if self.created_at_upper_limit is not None and created_at > now + self.created_at_upper_limit:
            return "the event's time is further ahead than the relay accepts"
        return None


def http_url(ws_url: str) -> str:
    return "http" + ws_url[2:] if ws_url.startswith("ws") else ws_url


def fetch_limits(ws_url: str, timeout: float = 3.0) -> RelayLimits:
    """GET the relay's information document; any failure means defaults (many relays publish none)."""
    request = urllib.request.Request(http_url(ws_url), headers={"Accept": "application/nostr+json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            doc = json.loads(response.read(1 << 20))
    except (OSError, ValueError, urllib.error.URLError):
        return RelayLimits()
    return parse_limits(doc)


def parse_limits(doc: object) -> RelayLimits:
    if not isinstance(doc, dict):
        return RelayLimits()
    lim = doc.get("limitation") if isinstance(doc.get("limitation"), dict) else {}
    assert isinstance(lim, dict)

    def num(key: str) -> int | None:
        value = lim.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None

    nips = doc.get("supported_nips")
    return RelayLimits(
        max_limit=num("max_limit") or DEFAULT_MAX_LIMIT,
        limit_published=num("max_limit") is not None,
        max_message_length=num("max_message_length") or DEFAULT_MAX_MESSAGE,
        max_content_length=num("max_content_length"),
        created_at_lower_limit=num("created_at_lower_limit"),
        created_at_upper_limit=num("created_at_upper_limit"),
        supported_nips=[n for n in nips if isinstance(n, int)] if isinstance(nips, list) else [],
        name=str(doc.get("name") or ""),
    )

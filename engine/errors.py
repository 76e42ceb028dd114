"""Typed engine errors. Each message is one sentence a user can act on; the CLI and TUI show it as is."""


class KoboldError(Exception):
    """Base of every error the engine raises on purpose."""


class NotFound(KoboldError):
    """A dataset, resource, record or event that does not exist."""


class Ambiguous(KoboldError):
    """A name that matches more than one thing."""


class SchemaError(KoboldError):
    """A resource definition or migration that cannot be accepted."""


class ValidationError(KoboldError):
    """A write whose values do not fit the schema; nothing was written."""


class StoreInUse(KoboldError):
    """Another process holds the store."""


class IdentityError(KoboldError):
    """A missing, malformed or conflicting identity key."""


class ImportFailed(KoboldError):
    """A bulk import that was refused as a whole."""


class EventRejected(KoboldError):
    """An event from outside that failed a check; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotAuthorized(KoboldError):
    """A write the author's role does not allow (engine/authorization.py says which role it needs)."""

"""Named errors. Modules raise these; the edges translate them (CLI message, HTTP status, polite reply).

Every error the project raises on purpose is a :class:`CivicError`, so an edge needs one ``except`` clause to
turn any of them into a clean message.
"""


class CivicError(Exception):
    """Base class for errors with a message fit to show an operator."""


class ConfigError(CivicError):
    """A setting is malformed; the message names the setting and the source."""


class NotFound(CivicError):
    """A document, application or other record does not exist."""


class InvalidInput(CivicError):
    """Input from a user or a file does not meet the rules; the message says which rule."""


class EngineUnavailable(CivicError):
    """The Rasa engine is not running or not answering."""


class AccessDenied(CivicError):
    """Credentials are missing or wrong, or the signed-in role may not do this (the edge picks 401 or 403)."""


class TooManyAttempts(CivicError):
    """Too many failed attempts in a short time; the message says when to try again."""


class StorageUnavailable(CivicError):
    """A database cannot be written: another process holds its write lock, it is read-only, or the disk is
    full.  ``from_sqlite`` turns SQLite's OperationalError into the message an operator can act on."""

    REASONS = (
        ("locked", "is locked by another process (an import or a backup?); try again when it has finished"),
        ("readonly", "is read-only (file permissions or a read-only mount); nothing was changed"),
        ("disk is full", "cannot grow: the disk is full; free space, then try again (nothing was changed)"),
        ("disk i/o", "could not be written (disk I/O error; is the disk full or failing?)"),
    )

    @classmethod
    def from_sqlite(cls, exc: Exception) -> CivicError:
        text = str(exc).lower().replace("read-only", "readonly").replace("read only", "readonly")
        for needle, reason in cls.REASONS:
            if needle in text:
                return cls(f"the database {reason} ({exc})")
        return CivicError(f"database error: {exc}")

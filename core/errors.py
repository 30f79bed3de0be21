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

"""Named errors. Modules raise these; the edges translate them (CLI message, HTTP status, polite reply)."""


class CivicError(Exception):
    """Base class for errors with a message fit to show an operator."""


class NotFound(CivicError):
    """A document, application or other record does not exist."""


class InvalidInput(CivicError):
    """Input from a user or a file does not meet the rules; the message says which rule."""


class EngineUnavailable(CivicError):
    """The Rasa engine is not running or not answering."""

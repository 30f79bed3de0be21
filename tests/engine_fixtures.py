"""Fixtures that need the Rasa engine (owned by the serve/engine work)."""

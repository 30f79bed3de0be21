"""The admin console (/admin): sign-in, users, tokens, the audit log, and the sections other modules add."""

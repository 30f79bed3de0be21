"""The action server's answers validated against a schema checked once, not once per action call.

Rasa 3.6.21 validates every action server response with ``jsonschema.validate(result, schema)``, and that
function first checks the (constant) schema against its meta-schema every time: 18 % of the engine's CPU
for a turn that runs one action here (py-spy on the dialogue bench, bench/DIALOGUE.md).  ``install`` replaces
``RemoteAction._validate_action_result`` with the same validation — the same schema, the same validator
class, the same best-matching error raised — on a validator built once.  Installed when the engine loads the
app's input channel (``engine/channel.py``); tests/engine/check_validation.py proves it accepts and rejects
what Rasa's own does.
"""

from __future__ import annotations

from typing import Any

from jsonschema import ValidationError, exceptions, validators
from rasa.core.actions.action import RemoteAction

_validator: Any = None


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    global _validator
    if _validator is None:
        schema = RemoteAction.action_response_format_spec()
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
        _validator = cls(schema)
    error = exceptions.best_match(_validator.iter_errors(result))
    if error is not None:
        error.message += (". Failed to validate Action server response from API, make sure your response "
                          "from the Action endpoint is valid.")
        raise error
    return True


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result


__all__ = ["ValidationError", "install"]

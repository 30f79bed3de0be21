"""Run inside the engine's virtualenv by test_persisted.py: the patched validation of action responses
accepts and rejects exactly what Rasa's own does."""

import sys

from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

original = RemoteAction._validate_action_result
from engine import validation  # noqa: E402

validation.install()
patched = RemoteAction._validate_action_result
assert patched is not original
cases = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "item", "value": "x"}], "responses": [{"response": "utter_ok"}]},
    {"events": [{"event": 3}], "responses": []},
    {"events": "not a list", "responses": []},
    {"responses": [{"text": "hi", "buttons": [{"title": "a", "payload": "/b"}]}]},
    {"events": [{"name": "no event key"}]},
]
action = RemoteAction("action_x", None)
same = 0
for case in cases:
    outcomes = []
    for fn in (original, patched):
        try:
            outcomes.append(("ok", fn(action, case)))
        except ValidationError as exc:
            outcomes.append(("error", exc.message.split(". Failed")[0]))
    same += outcomes[0] == outcomes[1]
    print(outcomes)
print(f"same {same}/{len(cases)}")
sys.exit(0 if same == len(cases) else 1)

"""Custom Rasa NLU component (runs inside the engine's virtualenv): regex matches win over model guesses.

For application numbers and 文号 the RegexEntityExtractor is exact, while DIET may tag the same span (a
duplicate) or part of it (「〔2019〕3号」).  When the regex found an entity of such a type, this component
drops the other extractors' entities of that type; when it found none, DIET's guess is kept.
Place it after DIETClassifier and before EntitySynonymMapper in config.yml.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_TYPE, EXTRACTOR
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class RegexEntityPriority(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"entities": ["app_no", "doc_no"], "extractor": "RegexEntityExtractor"}

    def __init__(self, config: dict[str, Any]) -> None:
        self.entities = set(config.get("entities") or [])
        self.extractor = str(config.get("extractor") or "RegexEntityExtractor")

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RegexEntityPriority:
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            found = message.get(ENTITIES, [])
            exact = {e.get(ENTITY_ATTRIBUTE_TYPE) for e in found if e.get(EXTRACTOR) == self.extractor}
            owned = exact & self.entities
            if owned:
                kept = [e for e in found
                        if e.get(ENTITY_ATTRIBUTE_TYPE) not in owned or e.get(EXTRACTOR) == self.extractor]
                message.set(ENTITIES, kept, add_to_output=True)
        return messages

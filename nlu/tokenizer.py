"""Custom Rasa NLU tokenizer (runs inside the engine's virtualenv): jieba without whitespace tokens.

Rasa's JiebaTokenizer keeps every piece jieba returns, and jieba returns the spaces between English words
as tokens of their own.  DIET then tags spaces as parts of entities: 「how can I replace my lost social
security card」 came out as the items 「my」, 「lost 」 and 「社保卡」.  Chinese text has no spaces, so
dropping them changes nothing there and gives English questions one token per word.  Configure it as
``nlu.tokenizer.JiebaWords`` in config.yml in place of ``JiebaTokenizer`` (same options, e.g.
``dictionary_path``).
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=True)
class JiebaWords(JiebaTokenizer):
    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        return [token for token in super().tokenize(message, attribute) if token.text.strip()]

"""Custom Rasa NLU tokenizer (runs inside the engine's virtualenv): jieba words with normalised lemmas.

Configure it as ``nlu.tokenizer.JiebaWords`` in config.yml in place of ``JiebaTokenizer`` (same options, e.g.
``dictionary_path``).  It differs from Rasa's JiebaTokenizer in two ways:

- Rasa keeps every piece jieba returns, and jieba returns the spaces between English words as tokens of their
  own.  DIET then tagged spaces as parts of entities: 「how can I replace my lost social security card」 came
  out as the items 「my」, 「lost 」 and 「社保卡」.  Chinese text has no spaces, so dropping them changes
  nothing there and gives English questions one token per word.
- Each token's lemma, which the CountVectorsFeaturizers read (``use_lemma`` is on by default), is the word in
  Simplified script with a negation mark when it sits in a negation's scope (:mod:`nlu.lemmas`).  The token's
  text and offsets are the message's own, so extracted entities are what the citizen typed.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

from nlu.lemmas import lemma_tokens


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=True)
class JiebaWords(JiebaTokenizer):
    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute)
        tokens = [Token(text[start:end], start, end, lemma=lemma) for start, end, lemma in lemma_tokens(text)]
        return self._apply_token_pattern(tokens)

"""Run inside the engine's virtualenv by test_use_featurizer.py: a real (tiny) Rasa NLU training with
nlu.use_featurizer.UseSentenceFeaturizer, then the trained model loaded and parsed in the same process.

Prints one JSON line: how often the encoder was loaded, how the training batch was encoded, the dense
features of a parsed message as the loaded model's featurizer node gives them, and the parses."""

import asyncio
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

import nlu.use_featurizer as use_featurizer
from retrieval.use_encoder import UseEncoder

imported_without_loading = use_featurizer._encoder is None
loads: list[int] = []
calls: list[int] = []
_load, _encode = UseEncoder.load.__func__, UseEncoder.encode


def counting_load(cls, **kwargs):
    loads.append(1)
    return _load(cls, **kwargs)


def counting_encode(self, texts, *args, **kwargs):
    calls.append(len(texts))
    return _encode(self, texts, *args, **kwargs)


UseEncoder.load = classmethod(counting_load)
UseEncoder.encode = counting_encode

from rasa.core.agent import Agent  # noqa: E402
from rasa.core.channels.channel import UserMessage  # noqa: E402
from rasa.engine.constants import PLACEHOLDER_MESSAGE  # noqa: E402
from rasa.model_training import train_nlu  # noqa: E402

EXAMPLES = {
    "greet": ["你好", "您好啊", "早上好", "嗨，在吗", "晚上好"],
    "thank": ["谢谢", "多谢你", "非常感谢", "感谢帮忙", "太感谢了"],
    "ask_passport": ["护照丢了怎么补办", "我要办护照", "护照过期了怎么换", "办护照要什么材料",
                     "护照在哪里办"],
}
# each shares no character with the examples of any intent (the count features see nothing they know)
PARAPHRASES = {"thanks a lot": "thank", "I lost my passport, what should I do?": "ask_passport",
               "出國證件遺失": "ask_passport"}
CONFIG = """
language: zh
assistant_id: check-use-featurizer
pipeline:
  - name: nlu.tokenizer.JiebaWords
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 3
  - name: nlu.use_featurizer.UseSentenceFeaturizer
    scale: 3.0
  - name: nlu.persisted.LinearIntentClassifier
    C: 20
    sublinear_tf: true
policies: []
"""

with tempfile.TemporaryDirectory() as tmp:
    work = Path(tmp)
    (work / "config.yml").write_text(CONFIG, encoding="utf-8")
    blocks = "".join(f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {t}\n" for t in texts)
                     for intent, texts in EXAMPLES.items())
    (work / "nlu.yml").write_text(f'version: "3.1"\nnlu:\n{blocks}', encoding="utf-8")
    (work / "domain.yml").write_text(f'version: "3.1"\nintents: [{", ".join(EXAMPLES)}]\n', encoding="utf-8")
    model = train_nlu(str(work / "config.yml"), str(work / "nlu.yml"), str(work / "models"),
                      domain=str(work / "domain.yml"))
    training_calls = list(calls)
    agent = Agent.load(model)
    processor = agent.processor
    assert processor is not None
    node = next(n for n in processor.model_metadata.predict_schema.nodes if "UseSentenceFeaturizer" in n)
    # the loaded model's own featurizer node, run on a message as a turn runs it
    out = processor.graph_runner.run(inputs={PLACEHOLDER_MESSAGE: [UserMessage("出國證件遺失")]},
                                     targets=[node])
    message = out[node][0]
    sequence, sentence = message.get_dense_features("text")
    norm = float(np.linalg.norm(sentence.features)) if sentence is not None else 0.0
    parses = {text: asyncio.run(agent.parse_message(text))["intent"]["name"] for text in PARAPHRASES}
    trained = {text: asyncio.run(agent.parse_message(text))["intent"]["name"]
               for texts in EXAMPLES.values() for text in texts}

result = {
    "imported_without_loading": imported_without_loading,
    "loads": len(loads),
    "training_calls": training_calls,
    "examples": sum(map(len, EXAMPLES.values())),
    "sentence_shape": list(sentence.features.shape) if sentence is not None else None,
    "sequence": sequence is not None,
    "norm": norm,
    "parses": parses,
    "expected": PARAPHRASES,
    "trained_right": sum(trained[t] == i for i, texts in EXAMPLES.items() for t in texts),
}
print(json.dumps(result, ensure_ascii=False))
sys.exit(0)

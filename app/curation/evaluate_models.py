"""Run in the engine's virtualenv (not imported by the app): parse texts with Rasa models.

``python evaluate_models.py IN.json OUT.json`` with ``IN = {"models": {name: model.tar.gz}, "texts": [...]}``
writes ``{name: [{"intent", "confidence"}, ...]}``: the intent each model gives each text as the engine
would (``nlu_fallback`` when the FallbackClassifier steps in).  app/curation/training.py calls it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from typing import Any


async def _parse(model: str, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    out = []
    for text in texts:
        result = await agent.parse_message(text)
        intent = result.get("intent") or {}
        confidence = round(float(intent.get("confidence") or 0), 4)
        out.append({"intent": intent.get("name"), "confidence": confidence})
    return out


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    with open(argv[1], encoding="utf-8") as fh:
        spec = json.load(fh)
    results = {name: asyncio.run(_parse(path, spec["texts"])) for name, path in spec["models"].items()}
    with open(argv[2], "w", encoding="utf-8") as fh:
        json.dump(results, fh, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

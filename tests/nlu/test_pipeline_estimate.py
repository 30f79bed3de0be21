"""bench/nlu_quick.py --pipeline, the estimate that chose the featurizer's scale: config.yml's components
fitted per fold inside the engine's virtualenv, one score per (scale, C).  ~30 s."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from civic.train import rasa_env
from core.settings import REPO_ROOT, load_settings

pytestmark = pytest.mark.engine

# Chinese and English examples of each intent
EXAMPLES = {
    "greet": ["你好", "您好啊", "早上好", "嗨，在吗", "晚上好", "hello", "hi there", "good morning",
              "hey, anyone here?", "good evening"],
    "thank": ["谢谢", "多谢你", "非常感谢", "感谢帮忙", "太感谢了", "thanks", "thank you so much",
              "many thanks", "thanks for the help", "much appreciated"],
    "ask_passport": ["护照丢了怎么补办", "我要办护照", "护照过期了怎么换", "办护照要什么材料", "护照在哪里办",
                     "I lost my passport", "how do I get a passport", "my passport expired",
                     "documents for a passport", "where to apply for a passport"],
}
CONFIG = """
language: zh
pipeline:
  - name: nlu.tokenizer.JiebaWords
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 3
  - name: nlu.use_featurizer.UseSentenceFeaturizer
    scale: 4
  - name: nlu.persisted.LinearIntentClassifier
    C: 20
    sublinear_tf: true
  - name: FallbackClassifier
    threshold: 0.4
    ambiguity_threshold: 0.05
"""


def test_the_estimate_scores_each_scale_of_the_sentence_vectors(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "home")
    if not Path(settings.rasa_bin).exists():
        pytest.skip("the engine virtualenv is missing; run `make setup`")
    (tmp_path / "nlu").mkdir()
    blocks = "".join(f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {t}\n" for t in texts)
                     for intent, texts in EXAMPLES.items())
    (tmp_path / "nlu" / "nlu.yml").write_text(f'version: "3.1"\nnlu:\n{blocks}', encoding="utf-8")
    (tmp_path / "config.yml").write_text(CONFIG, encoding="utf-8")
    python = Path(settings.rasa_bin).parent / "python"
    run = subprocess.run([str(python), "-m", "bench.nlu_quick", "--child", str(tmp_path), "--scales", "0,4",
                          "--C", "20", "--seeds", "0"], env=rasa_env(settings), cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    rows = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert [(r["scale"], r["C"]) for r in rows] == [(0.0, 20.0), (4.0, 20.0)]
    without, with_vectors = (r["macro_f1_argmax"] for r in rows)
    assert 0.0 < without <= with_vectors and with_vectors >= 0.9

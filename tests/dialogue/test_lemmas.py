"""What the NLU featurizers see of a message: Simplified lemmas with negation marks (nlu/lemmas.py), and the
engine-side tokenizer that puts them on Rasa tokens (nlu/tokenizer.py)."""

from __future__ import annotations

import json
import subprocess

import pytest

from core.settings import REPO_ROOT, Settings
from nlu.lemmas import NEGATED, mark_negation, simplified


def test_words_after_a_negation_are_marked_up_to_the_clause_end() -> None:
    assert mark_negation(["没有", "帮助", "，", "谢谢"]) == ["没有", NEGATED + "帮助", "，", "谢谢"]
    assert mark_negation(["有", "帮助"]) == ["有", "帮助"]
    assert mark_negation(["this", "is", "not", "helpful"]) == ["this", "is", "not", NEGATED + "helpful"]


def test_words_that_begin_like_a_negation_keep_their_form_and_negate_nothing() -> None:
    assert mark_negation(["说", "得", "不清不楚"]) == ["说", "得", "不清不楚"]
    assert mark_negation(["不动产", "登记", "要", "什么", "材料"]) == ["不动产", "登记", "要", "什么", "材料"]
    assert mark_negation(["身份证", "不见", "了", "怎么", "补办"]) == ["身份证", "不见", "了", "怎么", "补办"]


def test_the_scope_is_the_next_two_words() -> None:
    assert mark_negation(["没有", "什么", "帮助"]) == ["没有", NEGATED + "什么", NEGATED + "帮助"]
    assert mark_negation(["无", "犯罪", "记录", "证明", "怎么", "开"]) == [
        "无", NEGATED + "犯罪", NEGATED + "记录", "证明", "怎么", "开"]
    assert mark_negation(["不太", "清楚"]) == ["不太", NEGATED + "清楚"]
    # a second cue in the scope stays unmarked
    assert mark_negation(["不是", "不", "对"]) == ["不是", "不", NEGATED + "对"]


def test_punctuation_inside_a_scope_is_not_marked() -> None:
    assert mark_negation(["don", "'", "t", "need"]) == ["don", "'", NEGATED + "t", NEGATED + "need"]


def test_traditional_text_is_simplified() -> None:
    assert simplified("沒有幫助") == "没有帮助"
    # the variants OpenCC leaves alone, as the search index maps them (one rule: retrieval.normalize)
    assert simplified("身分證不見了") == "身份证不见了"
    assert simplified("") == ""


_TOKENIZE = """
import json, sys
from nlu.tokenizer import JiebaWords
from rasa.shared.nlu.training_data.message import Message
tokenizer = JiebaWords(JiebaWords.get_default_config(), None, None)
out = {}
for text in json.loads(sys.argv[1]):
    tokens = tokenizer.tokenize(Message({"text": text}), "text")
    out[text] = [[t.text, t.start, t.end, t.lemma] for t in tokens]
print(json.dumps(out, ensure_ascii=False))
"""


@pytest.mark.engine
def test_engine_tokenizer_keeps_the_typed_text_and_featurizes_simplified_negated_lemmas() -> None:
    engine_python = Settings().rasa_bin.rsplit("/", 1)[0] + "/python"
    texts = ["沒有幫助，謝謝", "how do I renew my residence permit", "記憶體不夠"]
    run = subprocess.run(
        [engine_python, "-c", _TOKENIZE, json.dumps(texts)],
        cwd=REPO_ROOT, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    tokens = json.loads(run.stdout.strip().splitlines()[-1])
    assert tokens["沒有幫助，謝謝"] == [
        ["沒有", 0, 2, "没有"], ["幫助", 2, 4, NEGATED + "帮助"], ["，", 4, 5, "，"], ["謝謝", 5, 7, "谢谢"]
    ]
    english = tokens["how do I renew my residence permit"]
    assert [t[0] for t in english] == ["how", "do", "I", "renew", "my", "residence", "permit"]  # no spaces
    assert english[2][3] == "i"
    # a phrase conversion that changes the length (記憶體→内存): offsets still point into the typed text
    for text, start, end, _ in tokens["記憶體不夠"]:
        assert "記憶體不夠"[start:end] == text
    assert [t[3] for t in tokens["記憶體不夠"]][-1] == "不够"


"""The form of each token that the NLU featurizers see (the token's *lemma*).

Two things make citizens' short messages hard to tell apart with bag-of-n-gram features:

- **Script.** 「沒有用」 and 「没有用」 share no character, so every Traditional example teaches the model
  features of its own.  Lemmas are Simplified (OpenCC, see ``retrieval.normalize``), so a Traditional
  message is featurized like its Simplified twin; the token's text and offsets stay those of the message,
  so entities are still cut from what the citizen typed.
- **Negation.** 「有帮助」 (feedback_good) and 「没有帮助」 (feedback_bad) share the word 帮助 and all its
  character n-grams.  The (at most :data:`SCOPE`) words after a negation cue, within its clause, get the
  prefix :data:`NEGATED` (「没有 ¬帮助」), so the model can learn that 帮助 praises and ¬帮助 complains.
  Words that merely begin with 不/没/无 (「不靠谱」「没用」, but also 「不动产」「不见了」) are left as they
  are and open no scope: 「不动产登记要什么材料」 and 「身份证不见了怎么补办」 are no negations, and a
  scope to the clause end had turned their 登记/材料/补办 into words no service question uses.

Measured on the training data of ``783a372`` (bench/NLU_REPORT.md), with the scope then running to the clause
end: intent macro-F1 0.824 → 0.843 on the quick estimate (``make bench-nlu``), 0.787 → 0.809 with DIET on a
fixed split.  The two-word scope came with issue 11 (bench/TRAINING.md: the probes 34 → 36 of 40 and 41 → 43
of 44 together with the classifier's new regularisation).
"""

from __future__ import annotations

import re

from retrieval.normalize import to_simplified

NEGATED = "¬"

# Cues that negate the next SCOPE words of their clause.  Chinese cues are Simplified (lemmas are converted
# first); English ones are lower case, as jieba splits 「don't」 into 「don」 「'」 「t」.
_CUES = frozenset(
    {
        "不", "没", "没有", "无", "毫无", "别", "非", "未", "不是", "不太", "不怎么", "不够", "一点",
        "not", "no", "never", "don", "doesn", "didn", "isn", "wasn", "aren", "cannot", "nothing", "hardly",
    }
)
# How many words after a cue are negated: 「没有 ¬什么 ¬帮助」, 「不是 ¬很 ¬有用」.
SCOPE = 2
_CLAUSE_END = re.compile(r"[，。！？、；：,.!?;:~～…\n]+")


def lemma_tokens(text: str) -> list[tuple[int, int, str]]:
    """(start, end, lemma) of each jieba word of ``text``: offsets into ``text``; lemmas Simplified, lower
    case and negation-marked; jieba's whitespace tokens dropped."""
    import jieba

    simple = simplified(text)
    # OpenCC converts most text character for character; a phrase conversion that changes the length
    # (記憶體→内存) would break the offsets, so such a message is cut as typed and each word converted.
    same_length = len(simple) == len(text)
    pieces = [
        (word, start, end)
        for word, start, end in jieba.tokenize(simple if same_length else text)
        if word.strip()
    ]
    words = [(word if same_length else simplified(word)).lower() for word, _, _ in pieces]
    return [(start, end, lemma) for (_, start, end), lemma in zip(pieces, mark_negation(words), strict=True)]


def simplified(text: str) -> str:
    """The Simplified form of ``text`` (OpenCC), possibly of another length for phrase conversions."""
    return to_simplified(text) if text else text


def mark_negation(words: list[str]) -> list[str]:
    """``words`` (lower-case, Simplified) with the words in a negation's scope prefixed by NEGATED: up to
    SCOPE words (punctuation inside it not counted) after a cue, never past the end of the clause."""
    marked: list[str] = []
    left = 0
    for word in words:
        if _CLAUSE_END.fullmatch(word):
            left = 0
            marked.append(word)
            continue
        if word in _CUES:
            left = SCOPE
            marked.append(word)
            continue
        counted = any(ch.isalnum() for ch in word)
        marked.append(NEGATED + word if left and counted else word)
        left = max(0, left - counted)
    return marked

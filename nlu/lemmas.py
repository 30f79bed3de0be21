"""The form of each token that the NLU featurizers see (the token's *lemma*).

Two things make citizens' short messages hard to tell apart with bag-of-n-gram features:

- **Script.** 「沒有用」 and 「没有用」 share no character, so every Traditional example teaches the model
  features of its own.  Lemmas are Simplified (OpenCC, see ``retrieval.normalize``), so a Traditional
  message is featurized like its Simplified twin; the token's text and offsets stay those of the message,
  so entities are still cut from what the citizen typed.
- **Negation.** 「有帮助」 (feedback_good) and 「没有帮助」 (feedback_bad) share the word 帮助 and all its
  character n-grams.  Every word after a negation cue, up to the next punctuation mark, gets the prefix
  :data:`NEGATED` (「没有 ¬帮助」), so the model can learn that 帮助 praises and ¬帮助 complains.  Words that
  carry their own negation (「不靠谱」「没用」) are left as they are.

Measured on the training data of ``783a372`` (bench/NLU_REPORT.md): intent macro-F1 0.824 → 0.843 on the
quick estimate (``make bench-nlu``), 0.787 → 0.809 with DIET on a fixed split.
"""

from __future__ import annotations

import re

from retrieval.normalize import to_simplified

NEGATED = "¬"

# Cues whose scope runs to the end of the clause.  Chinese cues are Simplified (lemmas are converted first);
# English ones are lower case, as jieba splits 「don't」 into 「don」 「'」 「t」.
_CUES = frozenset(
    {
        "不", "没", "没有", "无", "毫无", "别", "非", "未", "不是", "不太", "不怎么", "不够", "一点",
        "not", "no", "never", "don", "doesn", "didn", "isn", "wasn", "aren", "cannot", "nothing", "hardly",
    }
)
# Words starting with these are negated in themselves (不靠谱, 没用, 无效) and open a scope too.
_NEGATING_HEADS = ("不", "没", "无")
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
    """``words`` (lower-case, Simplified) with every word inside a negation's scope prefixed by NEGATED."""
    marked: list[str] = []
    in_scope = False
    for word in words:
        if _CLAUSE_END.fullmatch(word):
            in_scope = False
            marked.append(word)
            continue
        opens = word in _CUES or word.startswith(_NEGATING_HEADS)
        negated = in_scope and not opens and any(ch.isalnum() for ch in word)
        marked.append(NEGATED + word if negated else word)
        in_scope = in_scope or opens
    return marked

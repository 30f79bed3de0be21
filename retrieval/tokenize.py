"""Tokenisation for the lexical index: jieba search-mode words plus character bigrams.

Input is text already passed through :func:`retrieval.normalize.normalize` (Simplified, lower case).
Two token streams come out of one text:

* ``words``: jieba ``cut_for_search`` (long words and their dictionary sub-words), punctuation and stop
  words dropped; ASCII runs (numbers, codes like "tw-fido") kept whole.
* ``bigrams``: overlapping character bigrams of each CJK run (a single-character run yields itself), so
  that words jieba splits differently in a query and a document still meet.
* ``unigrams``: single CJK characters, a weak back-off signal.

Bigram and unigram tokens are prefixed with ``"\\x01"`` / ``"\\x02"`` so the streams share one vocabulary
without colliding ("规定" the word vs "规定" the bigram).  jieba is initialised once in
:meth:`Tokenizer.warm_up`; a user dictionary (service-item titles, agency names) can be added there.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from typing import Any

BIGRAM_MARK = "\x01"
UNIGRAM_MARK = "\x02"

_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:[.\-_/][a-z0-9]+)*")
_HAS_WORD_CHAR = re.compile(r"[\w\u3400-\u9fff]")

# Function words and question words (Simplified).  They appear in most questions and carry no topic.
_STOP_TEXT = """
    的 了 吗 呢 吧 啊 呀 嘛 么 着 过 得 地 之 其 于 与 及 和 跟 同 或 或者 还是 而 且 并 并且 但 但是
    是 为 在 有 没 没有 无 不 也 都 就 还 又 再 才 很 太 更 最 已 已经 将 会 能 能否 可 可以 可否 是否
    要 需 需要 应 应该 应当 该 须 必须 得 让 使 被 把 对 向 从 到 由 以 因 因为 所以 如果 若 则 即
    我 我们 你 你们 您 他 她 它 他们 她们 自己 本人 大家
    这 那 这个 那个 这些 那些 这样 那样 此 该 每 各 某 哪 哪个 哪些 哪里 哪儿 什么 甚么 啥 怎么 怎样
    怎么样 怎么办 如何 为何 为什么 何 何时 何处 多少 几 吗 请 请问 问 想 知道 一下 一个 个 些 等 等等
    时 时候 后 前 中 上 下 内 外 里 啦 喔 哦 呢 吶 嗎 唷
"""
# The same for English (lower case, as normalised): the keywords of a Chinese corpus hold English names
# such as "apply for a residence permit", and without these a question's "how do i apply for a" outweighed
# its "passport".
_STOP_TEXT_EN = """
    a an the of for to in on at by with from about into as and or but if so than then
    is are was were be been being am do does did doing done have has had having can could shall should will
    would may might must how what when where which who whom whose why i me my mine we us our you your it its
    he him his she her they them their this that these those there here please hi hello any some
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_TEXT.split()) | frozenset(_STOP_TEXT_EN.split())


class Tokenizer:
    """A jieba tokenizer of its own (not jieba's global one), initialised once."""

    def __init__(self, stop_words: Iterable[str] = STOP_WORDS) -> None:
        self.stop_words = frozenset(stop_words)
        self._jieba = None
        self._lock = threading.Lock()
        self._user_words: set[str] = set()

    def warm_up(self, user_words: Iterable[str] = ()) -> None:
        """Load jieba's dictionary (about half a second, once) and add the user dictionary."""
        with self._lock:
            if self._jieba is None:
                import logging

                import jieba

                jieba.setLogLevel(logging.WARNING)
                tk = jieba.Tokenizer()
                tk.initialize()
                self._jieba = tk
        self.add_words(user_words)

    @property
    def user_words(self) -> frozenset[str]:
        return frozenset(self._user_words)

    def add_words(self, words: Iterable[str]) -> None:
        """Add names (service items, agencies) to the user dictionary so jieba keeps them whole."""
        tk = self._ensure()
        for word in words:
            word = word.strip()
            if 2 <= len(word) <= 30 and " " not in word and word not in self._user_words:
                self._user_words.add(word)
                tk.add_word(word, freq=max(tk.suggest_freq(word, tune=False), 50))

    def _ensure(self) -> Any:
        if self._jieba is None:
            self.warm_up()
        return self._jieba

    def words(self, text: str) -> list[str]:
        tk = self._ensure()
        out: list[str] = []
        for tok in tk.cut_for_search(text):
            tok = tok.strip()
            if not tok or tok in self.stop_words or not _HAS_WORD_CHAR.search(tok):
                continue
            out.append(tok)
        return out

    def bigrams(self, text: str) -> list[str]:
        out: list[str] = []
        for run in _CJK_RUN.findall(text):
            if len(run) == 1:
                if run not in self.stop_words:
                    out.append(BIGRAM_MARK + run)
                continue
            for i in range(len(run) - 1):
                gram = run[i : i + 2]
                if gram not in self.stop_words:
                    out.append(BIGRAM_MARK + gram)
        for word in _ASCII_WORD.findall(text):
            if word not in self.stop_words:
                out.append(BIGRAM_MARK + word)
        return out

    def unigrams(self, text: str) -> list[str]:
        """Single CJK characters (not stop words): a weak signal that rescues rare one-character terms."""
        stop = self.stop_words
        return [UNIGRAM_MARK + ch for run in _CJK_RUN.findall(text) for ch in run if ch not in stop]

    def tokens(self, text: str) -> list[str]:
        """All three streams, as indexed by :class:`retrieval.lexical.LexicalIndex`."""
        return self.words(text) + self.bigrams(text) + self.unigrams(text)

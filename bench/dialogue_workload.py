"""What the dialogue bench measures: the targets, the texts each kind of turn sends, the run's shape
(``Options``) and one measured ``Phase``.  Shared by the load generator (bench/dialogue.py) and the report
(bench/dialogue_report.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

# throughput target of the issue: the full turn keeps this share of bare Rasa's turns/s
THROUGHPUT_TARGET = 0.70
# long conversation: the last turns may be at most this many times slower than the first
GROWTH_TARGET = 1.5

GREETING = "你好"
# answered by action_answer_guide with a card: NLU tags 「出国」 as the item, which names no service, so the
# guide (普通护照申领) is found through retrieval
GUIDE_QUESTION = "出国旅游要办什么证件"
# the 50-turn conversation: this five-turn block repeated, so turns 1-5 and 46-50 ask the same kinds of thing
FULL_BLOCK = (
    "{question}",
    "那要多少钱？",
    "在哪里办",
    "谢谢",
    "你好",
)
CONVERSATION_QUESTIONS = (
    GUIDE_QUESTION,
    "结婚登记要带什么材料",
    "刚生完孩子去哪里报户口",
    "居住证怎么办理",
    "想提取公积金租房用，需要什么",
)
# bare Rasa's long conversation: rule responses only
BARE_BLOCK = ("你好", "谢谢", "你好呀", "谢谢啊", "早")


@dataclass
class Options:
    single_turns: int = 60
    per_session: int = 5
    concurrency: tuple[int, ...] = (10, 50)
    conversation_turns: int = 50
    conversations: int = 3
    rounds: int = 2
    warmup: int = 10


# -- phases --------------------------------------------------------------------------------------------
@dataclass
class Phase:
    kind: str
    phase: str  # "single", "c10", "c50", "conversation"
    turns: int
    wall_s: float
    latencies: list[float]
    cpu: dict[str, float] = field(default_factory=dict)
    turn_cpu_ms: list[float] = field(default_factory=list)  # per turn, engine + app (conversations only)

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.wall_s if self.wall_s > 0 else math.nan

    def cpu_ms_per_turn(self, name: str) -> float:
        return 1000 * self.cpu.get(name, math.nan) / self.turns if self.turns else math.nan

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "phase": self.phase, "turns": self.turns, "wall_s": round(self.wall_s, 3),
                "latencies_ms": [round(x, 2) for x in self.latencies],
                "cpu_s": {k: round(v, 3) for k, v in self.cpu.items()},
                "turn_cpu_ms": [round(x, 1) for x in self.turn_cpu_ms]}


def conversation_texts(kind: str, turns: int) -> list[str]:
    out: list[str] = []
    block = 0
    while len(out) < turns:
        if kind == "bare":
            out += BARE_BLOCK
        else:
            question = CONVERSATION_QUESTIONS[block % len(CONVERSATION_QUESTIONS)]
            out += [t.format(question=question) for t in FULL_BLOCK]
        block += 1
    return out[:turns]

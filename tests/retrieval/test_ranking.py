from retrieval.ranking import FusionParams, collapse, fuse, highlight, title_match
from retrieval.types import Passage


def test_fusion_ignores_dense_when_its_weight_is_zero() -> None:
    lexical = [("a#0", 4.0), ("b#0", 2.0)]
    dense = [("b#0", 0.9), ("c#0", 0.5)]
    assert fuse(lexical, dense, 0.0) == {"a#0": 1.0, "b#0": 0.5}
    both = fuse(lexical, dense, 1.0)
    assert both["b#0"] > 0.5 and "c#0" in both


def test_unreadable_passages_get_no_dense_score() -> None:
    fused = fuse([], [("x#0", 0.9), ("y#0", 0.1)], 1.0, passage_weight={"y#0": 1.0})
    assert fused["x#0"] == 0.0 and fused["y#0"] == 0.0  # x unreadable; y is the lowest cosine


def test_collapse_keeps_best_passages_per_document_and_boosts_named_titles() -> None:
    ps = {f"{d}#{i}": Passage(id=f"{d}#{i}", doc_id=d, field="f", text="t", title=title)
          for d, title in (("A", "结婚登记"), ("B", "护照申领")) for i in range(3)}
    scores = {"A#0": 0.5, "A#1": 0.9, "A#2": 0.1, "B#0": 1.0}
    docs = collapse(scores, ps, "结婚登记要带什么", FusionParams(title_beta=0.3, passages_per_hit=2))
    assert [d.doc_id for d in docs] == ["A", "B"]  # 0.9 * 1.3 beats 1.0
    assert [p.id for p, _ in docs[0].passages] == ["A#1", "A#0"]
    assert title_match("结婚登记要带什么", "结婚登记") == 1.0
    assert title_match("护照", "结婚登记") == 0.0


def test_highlight_marks_original_text() -> None:
    assert highlight("辦理護照需要身分證", ["护照", "身分证"]) == "辦理【護照】需要【身分證】"
    assert highlight("ＡＢＣ", ["abc"]) == "【ＡＢＣ】"

"""The quick intent cross-validation estimate (bench/nlu_quick.py)."""

from __future__ import annotations

from pathlib import Path

from bench.nlu_quick import cross_validate, featurize
from nlu.examples import read_examples
from nlu.lemmas import NEGATED


def test_examples_are_read_with_annotations_reduced_to_their_text(tmp_path: Path) -> None:
    data = tmp_path / "nlu.yml"
    data.write_text(
        'version: "3.1"\nnlu:\n'
        "  - intent: inform\n    examples: |\n      - 编号是[HD202610002301](app_no)\n      - 1234\n"
        "  - intent: ask_guide\n    examples: |\n"
        '      - [狗证]{"entity": "item", "value": "犬只登记"}多少钱\n'
        "  - regex: app_no\n    examples: |\n      - HD\\d{12}\n",
        encoding="utf-8",
    )
    assert read_examples(data) == [("inform", "编号是HD202610002301"), ("inform", "1234"),
                                   ("ask_guide", "狗证多少钱")]


def test_engine_lemmas_are_simplified_and_negation_marked(tmp_path: Path) -> None:
    dictionary = tmp_path / "userdict.txt"
    dictionary.write_text("居住证 2000 n\n", encoding="utf-8")
    engine = featurize(["沒有幫助", "居住證"], dictionary, "engine")
    assert engine == [f"没有 {NEGATED}帮助", "居住证"]
    assert featurize(["沒有幫助"], dictionary, "typed") == ["沒有 幫助"]


def test_cross_validation_separates_intents_that_differ_in_words() -> None:
    good = [f"很 有用 {w}" for w in "甲乙丙丁戊己庚辛壬癸"]
    bad = [f"没 {NEGATED}有用 {w}" for w in "子丑寅卯辰巳午未申酉"]
    score, predictions = cross_validate(good + bad, ["good"] * 10 + ["bad"] * 10)
    assert score == 1.0 and len(predictions) == 3
    mixed, _ = cross_validate(good + bad, ["good", "bad"] * 10)  # labels unrelated to the words
    assert mixed < 0.8

"""Training inputs generated from the archive: a new guide is understood after retraining, no hand edits."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from archive.demo import seed_demo
from archive.models import DocType, Document
from archive.store import Archive
from core.settings import REPO_ROOT
from nlu.generate import prepare_training
from nlu.names import aliases, names, short_title


def test_names_and_unambiguous_aliases() -> None:
    birth = Document(id="g1", title="新生儿出生登记（上户口）", body="", type=DocType.GUIDE,
                     keywords=["上户口", "落户"])
    move = Document(id="g2", title="户口迁入", body="", type=DocType.GUIDE, keywords=["落户"])
    assert short_title(birth.title) == "新生儿出生登记"
    assert names(birth) == ["新生儿出生登记（上户口）", "新生儿出生登记", "上户口", "落户"]
    table = aliases([birth, move])
    assert table["上户口"] == birth.title
    assert "落户" not in table  # shared by two guides: the action offers both


def test_prepare_training_writes_examples_synonyms_dictionary_and_config(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive.db")
    seed_demo(archive)
    archive.upsert(Document(id="SF-G-900", title="犬只登记", body="养狗要登记", type=DocType.GUIDE,
                            keywords=["养狗登记", "狗证"], fees="免费"))
    inputs = prepare_training(archive, REPO_ROOT, tmp_path / "gen")
    generated = yaml.safe_load(inputs.data[1].read_text(encoding="utf-8"))["nlu"]
    examples = next(b for b in generated if b.get("intent") == "ask_guide")["examples"]
    assert '[狗证]{"entity": "item", "value": "犬只登记"}' in examples
    synonyms = {b["synonym"]: b["examples"] for b in generated if "synonym" in b}
    assert "- 狗证" in synonyms["犬只登记"] and "- 狗證" in synonyms["犬只登记"]  # Traditional too
    assert "- 上户口" in synonyms["新生儿出生登记（上户口）"]
    lookup = next(b for b in generated if b.get("lookup") == "item")["examples"]
    assert "- 养狗登记" in lookup
    policies = next(b for b in generated if b.get("intent") == "ask_policy")["examples"]
    assert "[示府规〔2025〕5号](doc_no)" in policies
    words = (tmp_path / "gen" / "jieba" / "userdict.txt").read_text(encoding="utf-8").splitlines()
    assert "犬只登记 2000 n" in words and "居住證 2000 n" in words
    config = yaml.safe_load(inputs.config.read_text(encoding="utf-8"))
    jieba = next(c for c in config["pipeline"] if c["name"] in ("JiebaTokenizer", "nlu.tokenizer.JiebaWords"))
    assert Path(jieba["dictionary_path"]) == (tmp_path / "gen" / "jieba").resolve()
    assert inputs.domain == REPO_ROOT / "domain" and inputs.data[0] == REPO_ROOT / "data"


def test_long_everyday_questions_are_generated_for_every_guide() -> None:
    from nlu.generate import LONG_PER_GUIDE, long_guide_examples

    dog = Document(id="g9", title="犬只登记", body="", type=DocType.GUIDE,
                   keywords=["养狗登记", "狗证", "办狗证", "dog licence"])
    cat = Document(id="g8", title="猫只登记", body="", type=DocType.GUIDE, keywords=["养猫登记", "猫证"])
    examples = long_guide_examples([dog, cat], aliases([dog, cat]))
    english = [e for e in examples if "dog licence" in e]
    assert len(english) == 1 and english[0].split("[")[0].isascii()  # an English question, not a Chinese one
    chinese = [e for e in examples if e not in english]
    assert len(chinese) == LONG_PER_GUIDE + 2  # the cat has two informal names
    for text in chinese:  # each names its service as an entity mapped to the title, inside a whole sentence
        assert '"entity": "item", "value": "犬只登记"' in text or '"value": "猫只登记"' in text
        assert len(re.sub(r"\[[^\]]*\]\{[^}]*\}", "", text)) >= 6
    assert any(n in e for n in ("養狗登記", "狗證", "養貓登記", "貓證") for e in chinese)  # Traditional too

"""The curated data store: numbered versions, validation, the held-out split, the Rasa YAML export."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from app.curation.store import (
    EXPORT_NAME,
    HOLDOUT_EVERY,
    CurationStore,
    export_yaml,
    held_out,
    text_key,
    training_export,
    write_active,
)
from core.errors import InvalidInput, NotFound
from core.settings import Settings

INTENTS = ("affirm", "deny", "ask_guide")


@pytest.fixture
def store(settings: Settings) -> CurationStore:
    return CurationStore(settings.paths.curation_dir)


def test_every_change_is_a_new_version_and_earlier_ones_stay(store: CurationStore) -> None:
    assert store.latest_version() == 0 and store.get().examples == []
    first = store.add_examples("affirm", ["收到收到"], intents=INTENTS, actor="ed")
    second = store.add_examples("deny", ["不用了谢谢"], intents=INTENTS, actor="ed")
    assert (first.version, second.version) == (1, 2)
    assert [e.text for e in store.get(1).examples] == ["收到收到"]
    assert [(e.text, e.intent) for e in store.get(2).examples] == [("收到收到", "affirm"),
                                                                   ("不用了谢谢", "deny")]
    assert [c.version for c in store.history()] == [2, 1]
    assert store.history()[0].actor == "ed" and store.history()[0].action == "add_examples"
    files = sorted(p.name for p in store.data_dir.glob("v*.json"))
    assert files == ["v0001.json", "v0002.json"]
    with pytest.raises(NotFound):
        store.get(7)


def test_examples_are_validated_against_the_domain_and_each_other(store: CurationStore) -> None:
    with pytest.raises(InvalidInput, match="unknown intent"):
        store.add_examples("order_pizza", ["来份披萨"], intents=INTENTS)
    store.add_examples("affirm", ["收到收到"], intents=INTENTS)
    with pytest.raises(InvalidInput, match="already examples"):
        store.add_examples("affirm", ["收到收到"], intents=INTENTS)
    with pytest.raises(InvalidInput, match="already an example of 'affirm'"):
        store.add_examples("deny", ["收到收到"], intents=INTENTS)
    with pytest.raises(InvalidInput, match="no messages"):
        store.add_examples("deny", ["   "], intents=INTENTS)
    assert store.latest_version() == 1  # refused changes write no version


def test_texts_are_masked_again_and_cleaned_of_annotation_brackets(store: CurationStore) -> None:
    data = store.add_examples("ask_guide", ["我手机13812345678 [居住证](item) 怎么办"], intents=INTENTS)
    [example] = data.examples
    assert "13812345678" not in example.text and "〔手机号〕" in example.text
    assert "[" not in example.text and "(" not in example.text


def test_a_large_group_holds_one_in_five_out_and_a_single_message_is_always_trained(
        store: CurationStore) -> None:
    texts = [f"收到{i}号通知了" for i in range(10)]
    kept_out = held_out(texts)
    assert len(kept_out) == 10 // HOLDOUT_EVERY and held_out(list(reversed(texts))) == kept_out
    data = store.add_examples("affirm", texts, intents=INTENTS)
    assert {e.text for e in data.heldout_examples()} == kept_out
    assert held_out(["收到收到"]) == set()
    assert "# " not in export_yaml(data)
    exported = yaml.safe_load(export_yaml(data))
    lines = exported["nlu"][0]["examples"].splitlines()
    assert {line[2:] for line in lines} == set(texts) - kept_out


def test_synonyms_point_at_published_services_only(store: CurationStore) -> None:
    services = ["居住证申领", "结婚登记"]
    with pytest.raises(InvalidInput, match="not the title"):
        store.add_synonym("火星移民", "上火星", services=services)
    with pytest.raises(InvalidInput, match="differ"):
        store.add_synonym("结婚登记", "结婚登记", services=services)
    data = store.add_synonym("结婚登记", "扯证", services=services)
    assert data.synonyms == {"结婚登记": ["扯证"]}
    with pytest.raises(InvalidInput, match="already a synonym"):
        store.add_synonym("居住证申领", "扯证", services=services)


def test_dismissed_and_curated_messages_are_remembered_as_handled(store: CurationStore) -> None:
    store.dismiss(["今天天气怎么样"], actor="ed", reason="not ours")
    store.add_examples("affirm", ["收到收到"], intents=INTENTS)
    handled = store.handled_keys()
    assert handled[text_key("今天天气怎么样")] == "dismissed"
    assert handled[text_key(" 收到收到 ")] == "example:affirm"


def test_export_is_rasa_nlu_yaml_with_examples_synonyms_and_entity_annotations(store: CurationStore) -> None:
    store.add_examples("affirm", ["收到收到", "好的收到"], intents=INTENTS)
    data = store.add_synonym("结婚登记", "扯证", services=["结婚登记"])
    doc = yaml.safe_load(export_yaml(data))
    assert doc["version"] == "3.1"
    by_intent = {e["intent"]: e["examples"] for e in doc["nlu"] if "intent" in e}
    assert by_intent["affirm"].splitlines() == ["- 收到收到", "- 好的收到"]
    assert '[扯证]{"entity": "item", "value": "结婚登记"}' in by_intent["ask_guide"]
    assert {"synonym": "结婚登记", "examples": "- 扯证\n"} in doc["nlu"]


def test_civic_train_reads_the_active_version_only(store: CurationStore, settings: Settings,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "training"
    store.add_examples("affirm", ["收到收到"], intents=INTENTS)
    store.add_examples("deny", ["不用了谢谢"], intents=INTENTS)
    assert training_export(settings.paths.curation_dir, out) is None  # nothing activated yet
    write_active(settings.paths.curation_dir, {"version": 1})
    path = training_export(settings.paths.curation_dir, out)
    assert path == out / EXPORT_NAME
    assert path is not None
    exported = path.read_text(encoding="utf-8")
    assert "收到收到" in exported and "不用了谢谢" not in exported
    write_active(settings.paths.curation_dir, {"version": 0})  # rolled back before any curation
    assert training_export(settings.paths.curation_dir, out) is None and not path.exists()


def test_civic_train_inputs_include_the_active_export(settings: Settings) -> None:
    from civic.train import prepare_inputs

    store = CurationStore(settings.paths.curation_dir)
    before = prepare_inputs(settings).data
    store.add_examples("affirm", ["收到收到"], intents=INTENTS)
    write_active(settings.paths.curation_dir, {"version": 1})
    after = prepare_inputs(settings).data
    assert after == [*before, settings.paths.training_dir / EXPORT_NAME]


@pytest.mark.engine
def test_rasa_validates_the_export(store: CurationStore, settings: Settings, tmp_path: Path) -> None:
    """Rasa's own validator accepts the export with the project's data (the loop's validate step)."""
    from dataclasses import replace

    from app.curation import training
    from civic.commands.curation_cmds import rasa_tools
    from civic.train import prepare_inputs

    if not Path(settings.rasa_bin).exists():
        pytest.skip("no engine virtualenv")
    store.add_examples("affirm", ["收到收到", "好的收到"], intents=INTENTS)
    data = store.add_synonym("结婚登记", "扯证", services=["结婚登记"])
    path = tmp_path / "nlu_curated.yml"
    path.write_text(export_yaml(data), encoding="utf-8")
    inputs = prepare_inputs(settings)
    training.validate(rasa_tools(settings), replace(inputs, data=[*inputs.data, path]), tmp_path)
    broken = tmp_path / "broken" / "nlu_curated.yml"
    broken.parent.mkdir()
    broken.write_text('version: "3.1"\nnlu:\n  - intent: affirm\n    examples: 7\n', encoding="utf-8")
    with pytest.raises(training.CandidateFailed, match="validate"):
        training.validate(rasa_tools(settings), replace(inputs, data=[*inputs.data, broken]), tmp_path)

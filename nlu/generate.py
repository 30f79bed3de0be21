"""Training inputs generated from the archive, so a newly published guide is understood after retraining.

``prepare_training(archive, project_dir, out_dir)`` writes into ``out_dir``:

* ``nlu_generated.yml`` — ask_guide examples for every published guide under each of its names (title,
  short title, keywords — the informal names citizens use), with the aspect asked; ask_policy examples by
  文号, issuing agency and keyword; entity synonyms (unambiguous name -> guide title); an ``item`` lookup
  table of every name;
* ``jieba/userdict.txt`` — a jieba user dictionary of service names and agencies, so 「上户口」 or
  「公积金提取」 stay one token;
* ``config.yml`` — the project's config.yml with the JiebaTokenizer pointed at that dictionary (Rasa's
  config cannot interpolate paths).

``civic/train.py`` trains on ``TrainingInputs(config, domain, data)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from archive.models import DocType, Document, Status
from nlu.names import aliases, names

# (template, aspect) — {name} is the service as the citizen names it
GUIDE_TEMPLATES: tuple[tuple[str, str | None], ...] = (
    ("{name}[要带什么材料]{{\"entity\":\"aspect\",\"value\":\"materials\"}}", "materials"),
    ("{name}[需要哪些材料]{{\"entity\":\"aspect\",\"value\":\"materials\"}}", "materials"),
    ("{name}[多少钱]{{\"entity\":\"aspect\",\"value\":\"fees\"}}", "fees"),
    ("{name}[在哪里办]{{\"entity\":\"aspect\",\"value\":\"location\"}}", "location"),
    ("{name}[要多久]{{\"entity\":\"aspect\",\"value\":\"time_limit\"}}", "time_limit"),
    ("{name}[怎么办理]{{\"entity\":\"aspect\",\"value\":\"steps\"}}", "steps"),
    ("{name}[能网上办吗]{{\"entity\":\"aspect\",\"value\":\"online\"}}", "online"),
    ("我想咨询{name}", None),
    ("{name}[有什么条件]{{\"entity\":\"aspect\",\"value\":\"conditions\"}}", "conditions"),
    ("请问{name}", None),
)
POLICY_TEMPLATES = ("{doc_no}是什么文件", "查一下{doc_no}", "{doc_no}还有效吗")
AGENCY_TEMPLATES = ("{agency}发了哪些文件", "{agency}最新的政策")
TOPIC_TEMPLATES = ("关于{topic}的政策", "{topic}有什么政策文件")
MAX_NAMES_PER_GUIDE = 6
_S2T: Any = None


class DocumentSource(Protocol):
    def iter_documents(self, statuses: Any = None) -> Iterable[Document]: ...


@dataclass(frozen=True)
class TrainingInputs:
    config: Path
    domain: Path
    data: list[Path]


def _entity(text: str, entity: str, value: str | None = None) -> str:
    if value is None or value == text:
        return f"[{text}]({entity})"
    return f"[{text}]{json.dumps({'entity': entity, 'value': value}, ensure_ascii=False)}"


def _clean(text: str) -> str:
    return text.replace("[", "〔").replace("]", "〕").replace("(", "（").replace(")", "）")


def guide_examples(guides: list[Document], unique: dict[str, str]) -> list[str]:
    out: list[str] = []
    turn = 0
    for doc in guides:
        for name in names(doc)[:MAX_NAMES_PER_GUIDE]:
            template, _ = GUIDE_TEMPLATES[turn % len(GUIDE_TEMPLATES)]
            turn += 1
            shown = _clean(name)
            value = unique.get(name)  # ambiguous names stay as typed; the action offers the candidates
            out.append(template.format(name=_entity(shown, "item", value)))
    return out


def policy_examples(policies: list[Document]) -> list[str]:
    out: list[str] = []
    agencies = sorted({p.issuer for p in policies if p.issuer})
    topics = sorted({k for p in policies for k in p.keywords[:3] if len(k) >= 2})
    for i, doc in enumerate(p for p in policies if p.doc_no):
        out.append(POLICY_TEMPLATES[i % len(POLICY_TEMPLATES)].format(doc_no=_entity(doc.doc_no, "doc_no")))
    for i, agency in enumerate(agencies):
        out.append(AGENCY_TEMPLATES[i % len(AGENCY_TEMPLATES)].format(agency=_entity(agency, "agency")))
    for i, topic in enumerate(topics):
        out.append(TOPIC_TEMPLATES[i % len(TOPIC_TEMPLATES)].format(topic=_entity(_clean(topic), "topic")))
    return out


def _block(lines: Iterable[str]) -> str:
    return "".join(f"      - {line}\n" for line in lines)


def traditional(text: str) -> str:
    """The Traditional-script form of a name (citizens in Taiwan or Hong Kong type 「居住證」)."""
    global _S2T
    if _S2T is None:
        import opencc

        _S2T = opencc.OpenCC("s2t")
    return str(_S2T.convert(text))


def render_nlu(docs: list[Document]) -> str:
    guides = [d for d in docs if d.type == DocType.GUIDE]
    policies = [d for d in docs if d.type == DocType.POLICY]
    unique = aliases(guides)
    parts = ['version: "3.1"\n', "nlu:\n"]
    parts.append("  - intent: ask_guide\n    examples: |\n" + _block(guide_examples(guides, unique)))
    if policies:
        parts.append("  - intent: ask_policy\n    examples: |\n" + _block(policy_examples(policies)))
    synonyms: dict[str, list[str]] = {}
    for name, title in unique.items():
        for form in dict.fromkeys((name, traditional(name))):
            if form != title:
                synonyms.setdefault(title, []).append(_clean(form))
    for title, alts in sorted(synonyms.items()):
        head = f"  - synonym: {json.dumps(title, ensure_ascii=False)}\n    examples: |\n"
        parts.append(head + _block(alts))
    every = sorted({_clean(f) for d in guides for n in names(d) for f in (n, traditional(n))})
    if every:
        parts.append("  - lookup: item\n    examples: |\n" + _block(every))
    return "".join(parts)


def jieba_words(docs: list[Document]) -> list[str]:
    words = {f for d in docs if d.type == DocType.GUIDE for n in names(d) if len(n) <= 12
             for f in (n, traditional(n))}
    words |= {d.issuer for d in docs if d.issuer}
    return sorted(w for w in words if " " not in w)


def write_config(project_dir: Path, out_dir: Path, dictionary_dir: Path) -> Path:
    config = yaml.safe_load((project_dir / "config.yml").read_text(encoding="utf-8"))
    for component in config.get("pipeline", []):
        if component.get("name") == "JiebaTokenizer":
            component["dictionary_path"] = str(dictionary_dir.resolve())
    path = out_dir / "config.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def prepare_training(archive: DocumentSource, project_dir: Path, out_dir: Path) -> TrainingInputs:
    """Write the archive-generated training inputs into ``out_dir`` and say what to train on."""
    project_dir, out_dir = Path(project_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    docs = list(archive.iter_documents(statuses=[Status.PUBLISHED]))
    nlu_path = out_dir / "nlu_generated.yml"
    nlu_path.write_text(render_nlu(docs), encoding="utf-8")
    dictionary_dir = out_dir / "jieba"
    dictionary_dir.mkdir(exist_ok=True)
    (dictionary_dir / "userdict.txt").write_text(
        "".join(f"{w} 2000 n\n" for w in jieba_words(docs)), encoding="utf-8"
    )
    domain = project_dir / "domain"
    return TrainingInputs(
        config=write_config(project_dir, out_dir, dictionary_dir),
        domain=domain if domain.exists() else project_dir / "domain.yml",
        data=[project_dir / "data", nlu_path],
    )

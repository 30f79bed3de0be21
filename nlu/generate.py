"""Training inputs generated from the archive, so a newly published guide is understood after retraining.

``prepare_training(archive, project_dir, out_dir)`` writes into ``out_dir``:

* ``nlu_generated.yml`` — ask_guide examples for every published guide under each of its names (title,
  short title, keywords — the informal names citizens use), with the aspect asked; ask_policy examples by
  文号, issuing agency and keyword; entity synonyms (unambiguous name -> guide title); an ``item`` lookup
  table of every name;
* ``jieba/userdict.txt`` — a jieba user dictionary of service names and agencies, so 「上户口」 or
  「公积金提取」 stay one token;
* ``config.yml`` — the project's config.yml with the jieba tokenizer pointed at that dictionary (Rasa's
  config cannot interpolate paths).

``civic/train.py`` trains on ``TrainingInputs(config, domain, data)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
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
# Longer questions as citizens type them: a lead-in, the service, the part asked for in everyday words, a
# tail.  {name} is the service; <...> marks the words that carry the aspect.  The short templates above alone
# taught the model that a service question is a name plus three words, so long everyday questions drifted to
# the small social intents (affirm, deny, out_of_scope) whose examples are just as unlike them.
LONG_LEADS = ("你好，想问一下，", "麻烦问下，", "请问一下，", "我是外地来的，", "帮家里老人问问，",
              "不好意思打扰一下，", "第一次办这个不太懂，", "网上看了半天没看明白，", "我想咨询个事，", "",
              "朋友让我问问，", "急！", "我今年45岁，", "跑了2趟还没弄明白，", "下周3要去办，")
LONG_FRAMES = ("{name}{aspect}", "{name}这个事{aspect}", "关于{name}，{aspect}", "{name}的话，{aspect}",
               "想了解下{name}，{aspect}", "我家要办{name}，{aspect}")
LONG_ASPECTS: tuple[tuple[str, str], ...] = (
    ("需要准备<哪些材料>啊", "materials"),
    ("<要带些什么东西>过去", "materials"),
    ("<证件资料都要带哪些>，复印件要不要", "materials"),
    ("<大概要花多少钱>", "fees"),
    ("<收不收费>，收的话交多少", "fees"),
    ("<应该去哪个部门办>", "location"),
    ("<在哪个窗口办理>，离我近一点的有没有", "location"),
    ("<一般多久能办下来>", "time_limit"),
    ("<要等几个工作日>才拿得到", "time_limit"),
    ("<具体流程是怎样的>，先做什么后做什么", "steps"),
    ("<该怎么弄>，一点头绪都没有", "steps"),
    ("<能不能在手机上直接办>，不想跑腿", "online"),
    ("<网上能办吗>", "online"),
    ("<可以在网上办吗>", "online"),
    ("<可以找人代办吗>", "conditions"),
    ("我这种情况<符不符合条件>", "conditions"),
    ("<需要满足什么条件>才能办", "conditions"),
    ("窗口<周末上不上班>", "hours"),
    ("<几点到几点可以办>", "hours"),
)
LONG_TAILS = ("", "，谢谢", "？", "，麻烦告诉我一下", "，急着用", "呀", "，在线等")
LONG_PER_GUIDE = 3
TRADITIONAL_EVERY = 4  # every fourth long question in Traditional script
# English names of a service (keywords in Latin script) get English questions, not Chinese templates
EN_TEMPLATES: tuple[tuple[str, str | None], ...] = (
    ("hi, <what documents do I need> for {name}", "materials"),
    ("<how much does it cost> to get {name}", "fees"),
    ("<where do I go> for {name}", "location"),
    ("<how long does it take> to get {name}, I need it soon", "time_limit"),
    ("<how do I apply> for {name}", "steps"),
    ("<can I apply online> for {name} or do I have to go in person", "online"),
    ("<who is eligible> for {name}", "conditions"),
    ("I'd like to ask about {name}", None),
)
EN_PER_GUIDE = 1
POLICY_TEMPLATES = ("{doc_no}是什么文件", "查一下{doc_no}", "{doc_no}还有效吗")
AGENCY_TEMPLATES = ("{agency}发了哪些文件", "{agency}最新的政策")
TOPIC_TEMPLATES = ("关于{topic}的政策", "{topic}有什么政策文件")
MAX_NAMES_PER_GUIDE = 6
JIEBA_TOKENIZERS = ("JiebaTokenizer", "nlu.tokenizer.JiebaWords")
_S2T: Any = None


class DocumentSource(Protocol):
    def iter_documents(self, statuses: Any = None) -> Iterable[Document]: ...


@dataclass(frozen=True)
class TrainingInputs:
    """What ``rasa train`` reads: the config, the domain (a file or a directory) and the data paths."""

    config: Path
    domain: Path
    data: list[Path]

    def files(self) -> list[Path]:
        """Every file of the inputs, in a stable order (what the training fingerprint hashes)."""
        out: list[Path] = []
        for path in (self.config, self.domain, *self.data):
            out.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
        return out


def _entity(text: str, entity: str, value: str | None = None) -> str:
    if value is None or value == text:
        return f"[{text}]({entity})"
    return f"[{text}]{json.dumps({'entity': entity, 'value': value}, ensure_ascii=False)}"


def _clean(text: str) -> str:
    return text.replace("[", "〔").replace("]", "〕").replace("(", "（").replace(")", "）")


def clean_example(text: str) -> str:
    """A text made safe as a Rasa training example (no annotation brackets); app/curation/store.py uses it."""
    return _clean(text)


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


def _aspect(template: str, aspect: str | None, convert: Callable[[str], str] = str) -> str:
    """Render ``<words>`` in a template as the aspect entity (text converted, value kept)."""
    head, sep, rest = template.partition("<")
    if not sep or aspect is None:
        return convert(template.replace("<", "").replace(">", ""))
    words, _, tail = rest.partition(">")
    shown = convert(words)
    return convert(head) + _entity(shown, "aspect", aspect) + _aspect(tail, aspect, convert)


def _is_latin(name: str) -> bool:
    return name.isascii()


def long_guide_examples(guides: list[Document], unique: dict[str, str]) -> list[str]:
    """Long, colloquial questions (and English ones for English names), a few per guide, deterministic."""
    out: list[str] = []
    turn = 0  # counts the Chinese long questions; the choices below cycle with co-prime strides
    for g, doc in enumerate(guides):
        every = names(doc)
        chinese = [n for n in every if not _is_latin(n)]
        # the keywords (informal names): the title is rarely what citizens type, and a bare parenthetical
        # of the title (「租房」) does not name the service
        informal = [n for n in chinese if n in doc.keywords] or chinese
        for k in range(min(LONG_PER_GUIDE, len(informal))):
            name = informal[(g + 2 * k) % len(informal)]
            text, aspect = LONG_ASPECTS[(turn * 7) % len(LONG_ASPECTS)]
            frame = LONG_FRAMES[(turn * 5) % len(LONG_FRAMES)]
            lead, tail = LONG_LEADS[turn % len(LONG_LEADS)], LONG_TAILS[(turn * 3) % len(LONG_TAILS)]
            script: Callable[[str], str] = traditional if turn % TRADITIONAL_EVERY == 1 else str
            turn += 1
            shown = _clean(script(name))
            item = _entity(shown, "item", unique.get(name, shown if shown != name else None))
            before, _, after = frame.partition("{name}")
            head, _, rest = after.partition("{aspect}")
            out.append(script(lead + before) + item + script(head) + _aspect(text, aspect, script)
                       + script(rest + tail))
        for k, name in enumerate([n for n in every if _is_latin(n)][:EN_PER_GUIDE]):
            template, asked = EN_TEMPLATES[(g + k) % len(EN_TEMPLATES)]
            before, _, after = template.partition("{name}")
            item = _entity(_clean(name), "item", unique.get(name))
            out.append(_aspect(before, asked) + item + _aspect(after, asked))
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
    examples = guide_examples(guides, unique) + long_guide_examples(guides, unique)
    parts.append("  - intent: ask_guide\n    examples: |\n" + _block(examples))
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
        if component.get("name") in JIEBA_TOKENIZERS:
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

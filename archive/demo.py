"""The demo corpus of 示范市 (archive/demo/*.jsonl) and seeding an archive with it.

``civic serve`` calls ``seed_demo`` on an empty home so one command ends with a working assistant.
"""

from __future__ import annotations

from pathlib import Path

from archive.importers import ImportReport, import_paths
from archive.store import Archive
from core.errors import NotFound

DEMO_DIR = Path(__file__).resolve().parent / "demo"
# Guides first so policies and applications can refer to them; any other *.jsonl files follow by name.
DEMO_ORDER = ("guides.jsonl", "policies.jsonl", "faqs.jsonl", "applications.jsonl")
SEEDED_KEY = "demo_seeded"


def demo_files(demo_dir: Path = DEMO_DIR) -> list[Path]:
    order = {name: n for n, name in enumerate(DEMO_ORDER)}
    return sorted(demo_dir.glob("*.jsonl"), key=lambda p: (order.get(p.name, len(order)), p.name))


def is_seeded(archive: Archive) -> bool:
    """True once the demo corpus has been loaded into this archive (a single meta lookup)."""
    return archive.get_meta(SEEDED_KEY) is not None


def seed_demo(archive: Archive, demo_dir: Path = DEMO_DIR, max_body_chars: int = 200_000) -> ImportReport:
    """Import the demo corpus; idempotent (a second call reports no changes)."""
    files = demo_files(demo_dir)
    if not files:
        raise NotFound(f"no demo corpus in {demo_dir}")
    report = import_paths(archive, files, max_body_chars=max_body_chars)
    totals = report.to_dict()["totals"]
    archive.set_meta(SEEDED_KEY, f"{len(files)} files, {totals['added'] + totals['changed']} changes")
    return report

"""Small builders for archive tests: records in the generic format and files holding them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from civic.cli import cli


def record(doc_id: str, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": doc_id,
        "type": "guide",
        "title": f"示范事项{doc_id}",
        "body": f"这是事项{doc_id}的办事指南正文。",
    }
    data.update(fields)
    return data


def write_jsonl(path: Path, rows: list[dict[str, Any] | str], encoding: str = "utf-8") -> Path:
    """Objects are dumped as JSON; strings are written as raw lines (for malformed-line tests)."""
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def run(home: Path, *args: str) -> Result:
    """Invoke the real `civic` click group against ``home``."""
    return CliRunner().invoke(cli, ["--home", str(home), *args], catch_exceptions=True)

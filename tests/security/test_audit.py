"""scripts/audit.py offline: OSV advisories matched against installed distributions by OSV's own rules
(listed versions, introduced/fixed/last_affected ranges, withdrawn advisories ignored), and `make audit`'s
exit code (1 only for a fixable finding in the app's virtualenv)."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.audit import findings, load_advisories, main


def advisory(vid: str, package: str, ranges: list[list[dict[str, str]]] | None = None,
             versions: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    affected: dict[str, Any] = {"package": {"name": package, "ecosystem": "PyPI"}}
    if ranges is not None:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": events} for events in ranges]
    if versions is not None:
        affected["versions"] = versions
    return {"id": vid, "modified": "2024-10-10T00:00:00Z", "affected": [affected], **extra}


def write(folder: Path, *docs: dict[str, Any]) -> Path:
    for i, doc in enumerate(docs):
        target = folder / doc["affected"][0]["package"]["name"]
        target.mkdir(parents=True, exist_ok=True)
        if i % 2:
            (target / f"{doc['id']}.json").write_text(json.dumps(doc), encoding="utf-8")
        else:
            (target / f"{doc['id']}.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    return folder


def ids(name: str, version: str, folder: Path) -> list[str]:
    advisories, _ = load_advisories(folder)
    return [f["id"] for f in findings(name, version, advisories.get(name, []))]


def test_osv_ranges_versions_and_withdrawn(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        advisory("A-1", "Demo_Pkg", ranges=[[{"introduced": "0"}, {"fixed": "1.2.0"}]]),
        advisory("A-2", "demo-pkg", ranges=[[{"introduced": "2.0"}, {"last_affected": "2.1"}]]),
        advisory("A-3", "demo-pkg", ranges=[[{"introduced": "3.0"}]]),  # never fixed
        advisory("A-4", "demo-pkg", versions=["1.5.post1"]),
        advisory("A-5", "demo-pkg", ranges=[[{"introduced": "0"}]], withdrawn="2024-01-01T00:00:00Z"),
    )
    assert ids("demo-pkg", "1.1", folder) == ["A-1"]  # names are compared canonically
    assert ids("demo-pkg", "1.2.0", folder) == []  # fixed is exclusive
    assert ids("demo-pkg", "1.5.post1", folder) == ["A-4"]
    assert ids("demo-pkg", "2.1", folder) == ["A-2"]  # last_affected is inclusive
    assert ids("demo-pkg", "2.2", folder) == []
    assert ids("demo-pkg", "7.0", folder) == ["A-3"]
    advisories, newest = load_advisories(folder)
    assert newest.startswith("2024-10-10")
    found = findings("demo-pkg", "1.0", advisories["demo-pkg"])
    assert found == [{"id": "A-1", "aliases": [], "fix_versions": ["1.2.0"]}]


def test_make_audit_fails_only_on_a_fixable_finding_in_the_app(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    version = importlib.metadata.version("aiohttp")  # installed in this (the app's) virtualenv
    unfixed = write(tmp_path / "unfixed", advisory("U-1", "aiohttp", versions=[version], aliases=["CVE-1-2"]))
    assert main(["--advisories", str(unfixed)]) == 0
    out = capsys.readouterr().out
    assert f"aiohttp {version}: U-1 [CVE-1-2] (fixed in no fix)" in out
    assert "newest modified 2024-10-10" in out
    fixable = write(tmp_path / "fixable", advisory("F-1", "aiohttp", ranges=[[{"introduced": "0"},
                                                                              {"fixed": "9999"}]]))
    assert main(["--advisories", str(fixable)]) == 1
    assert "(fixed in 9999)" in capsys.readouterr().out
    assert main(["--advisories", str(tmp_path / "missing")]) == 1

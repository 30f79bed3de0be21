"""`make audit`: pip-audit of both virtualenvs (the app's .venv and the engine's .venv-rasa).

Fails (exit 1) on a known vulnerability in the app's virtualenv that has a fixed version; reports the
engine's findings without failing (Rasa 3.6 pins many of its dependencies: docs/security.md).  When the
vulnerability service cannot be reached (no network: every package comes back "not found" or the query
fails), it says so plainly and exits 0, so an offline CI run is not failed for that reason alone.

Offline, ``--advisories DIR`` (or ``CIVIC_ADVISORY_DB=DIR``) audits against a local copy of an OSV-format
advisory database instead, e.g. a checkout of https://github.com/pypa/advisory-database (its ``vulns/``
folder) or OSV's ``PyPI/all.zip`` unpacked: every ``*.yaml``/``*.json`` advisory under DIR is matched
against the installed distributions by OSV's rules (``versions`` lists, ``ECOSYSTEM`` ranges of
introduced / fixed / last_affected events). Such a copy is only as new as its last commit: the report
prints the newest advisory date it holds.
Run with .venv/bin/python (pip-audit is one of the dev dependencies).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
PIP_AUDIT = ROOT / ".venv" / "bin" / "pip-audit"


def audit(name: str, extra: list[str]) -> tuple[str, list[dict[str, object]]]:
    """("ok" | "unreachable" | "error: …", the vulnerable dependencies)."""
    cmd = [str(PIP_AUDIT), "--progress-spinner", "off", "--format", "json", "--timeout", "20", *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    try:
        report = json.loads(proc.stdout or "{}")
    except json.JSONDecodeError:
        report = {}
    deps = report.get("dependencies") or []
    if not deps:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        unreachable = any(w in proc.stderr for w in ("ConnectionError", "Name or service not known",
                                                     "Max retries", "timed out"))
        return ("unreachable" if unreachable else f"error: {tail}"), []
    skipped = [d for d in deps if d.get("skip_reason")]
    if len(skipped) == len(deps):
        return "unreachable", []
    return "ok", [d for d in deps if d.get("vulns")]


# -- offline: a local OSV advisory database ----------------------------------------------------------------
def _version(text: Any) -> Version | None:
    try:
        return Version(str(text))
    except InvalidVersion:
        return None


def load_advisories(root: Path) -> tuple[dict[str, list[dict[str, Any]]], str]:
    """Advisories by canonical package name (withdrawn ones left out), and the newest ``modified`` date."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    by_package: dict[str, list[dict[str, Any]]] = {}
    newest = ""
    files = [*root.rglob("*.yaml"), *root.rglob("*.json")]
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
            doc = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=loader)
        except (OSError, ValueError, yaml.YAMLError):
            continue
        if not isinstance(doc, dict) or "id" not in doc or doc.get("withdrawn"):
            continue
        newest = max(newest, str(doc.get("modified") or ""))
        for entry in doc.get("affected") or []:
            package = entry.get("package") or {}
            if package.get("ecosystem") == "PyPI" and package.get("name"):
                by_package.setdefault(canonicalize_name(package["name"]), []).append(doc)
    return by_package, newest


def _in_ranges(version: Version, ranges: Iterable[dict[str, Any]]) -> bool:
    """OSV's ECOSYSTEM ranges: each ``introduced`` opens an interval that the next ``fixed`` (exclusive) or
    ``last_affected`` (inclusive) closes; an interval never closed reaches every later version."""
    for rng in ranges:
        if rng.get("type") != "ECOSYSTEM":
            continue
        start: Version | None = None
        for event in rng.get("events") or []:
            if "introduced" in event:
                start = Version("0") if str(event["introduced"]) == "0" else _version(event["introduced"])
            elif start is not None and ("fixed" in event or "last_affected" in event):
                fixed = "fixed" in event
                end = _version(event["fixed" if fixed else "last_affected"])
                if end is not None and start <= version and (version < end if fixed else version <= end):
                    return True
                start = None
        if start is not None and start <= version:
            return True
    return False


def findings(name: str, version: str, advisories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """pip-audit's ``vulns`` shape (id, aliases, fix_versions) for one installed distribution."""
    parsed = _version(version)
    out: list[dict[str, Any]] = []
    for doc in advisories:
        for entry in doc.get("affected") or []:
            if canonicalize_name((entry.get("package") or {}).get("name", "")) != name:
                continue
            listed = version in {str(v) for v in entry.get("versions") or []}
            if listed or (parsed is not None and _in_ranges(parsed, entry.get("ranges") or [])):
                out.append({"id": doc["id"], "aliases": doc.get("aliases") or [],
                            "fix_versions": _fixes(entry, parsed)})
                break
    return out


def _fixes(entry: dict[str, Any], parsed: Version | None) -> list[str]:
    """The ``fixed`` versions above the installed one, lowest first."""
    floor = parsed or Version("0")
    events = [e for r in entry.get("ranges") or [] for e in r.get("events") or []]
    fixed = {str(e["fixed"]) for e in events if "fixed" in e}
    return sorted((f for f in fixed if (_version(f) or floor) > floor), key=lambda f: _version(f) or floor)


def installed(site: Path | None) -> dict[str, str]:
    """Canonical name → version of every distribution in ``site`` (this interpreter's when None)."""
    dists = metadata.distributions(path=[str(site)]) if site else metadata.distributions()
    return {canonicalize_name(d.metadata["Name"]): d.version for d in dists if d.metadata["Name"]}


def audit_offline(site: Path | None, advisories: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    vulnerable = []
    for name, version in sorted(installed(site).items()):
        found = findings(name, version, advisories.get(name, []))
        if found:
            vulnerable.append({"name": name, "version": version, "vulns": found})
    return vulnerable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--advisories", type=Path, default=os.environ.get("CIVIC_ADVISORY_DB") or None,
                        help="audit offline against this OSV advisory folder (env CIVIC_ADVISORY_DB)")
    args = parser.parse_args(argv)
    rasa_site = sorted(glob.glob(str(ROOT / ".venv-rasa" / "lib" / "python3*" / "site-packages")))
    if args.advisories is not None:
        return offline(args.advisories, Path(rasa_site[-1]) if rasa_site else None)
    if not PIP_AUDIT.exists():
        print("audit: pip-audit is not installed in .venv (make setup installs the dev dependencies)")
        return 1
    targets = [("app (.venv)", ["-l"], True)]
    if rasa_site:
        targets.append(("engine (.venv-rasa)", ["--path", rasa_site[-1]], False))
    failed = False
    for name, extra, strict in targets:
        state, vulnerable = audit(name, extra)
        if state == "unreachable":
            print(f"audit: {name}: NOT AUDITED — the vulnerability service (PyPI/OSV) is unreachable from "
                  "this machine; not failing CI for that (offline: --advisories DIR or CIVIC_ADVISORY_DB, "
                  "a checkout of pypa/advisory-database)")
            continue
        if state != "ok":
            print(f"audit: {name}: pip-audit failed: {state}")
            failed = failed or strict
            continue
        if report(name, vulnerable) and strict:
            failed = True
    return 1 if failed else 0


def report(name: str, vulnerable: list[dict[str, Any]]) -> int:
    """Print each finding; the number of findings that have a fix."""
    fixable = 0
    for dep in vulnerable:
        for vuln in dep.get("vulns") or []:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix"
            fixable += bool(vuln.get("fix_versions"))
            aliases = ", ".join(a for a in vuln.get("aliases") or [] if a.startswith("CVE-"))
            also = f" [{aliases}]" if aliases else ""
            print(f"audit: {name}: {dep['name']} {dep['version']}: {vuln.get('id')}{also} (fixed in {fixes})")
    print(f"audit: {name}: {len(vulnerable)} vulnerable package(s), {fixable} finding(s) with a fix")
    return fixable


def offline(root: Path, rasa_site: Path | None) -> int:
    if not root.is_dir():
        print(f"audit: advisory folder {root} does not exist")
        return 1
    advisories, newest = load_advisories(root)
    if not advisories:
        print(f"audit: no OSV advisories for PyPI under {root}")
        return 1
    print(f"audit: offline, {sum(map(len, advisories.values()))} advisories for {len(advisories)} packages "
          f"from {root} (newest modified {newest[:10] or 'unknown'}: later advisories are not known to it)")
    failed = bool(report("app (.venv)", audit_offline(None, advisories)))
    if rasa_site is not None:
        report("engine (.venv-rasa)", audit_offline(rasa_site, advisories))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

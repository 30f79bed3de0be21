"""`make audit`: pip-audit of both virtualenvs (the app's .venv and the engine's .venv-rasa).

Fails (exit 1) on a known vulnerability in the app's virtualenv that has a fixed version; reports the
engine's findings without failing (Rasa 3.6 pins many of its dependencies: docs/security.md).  When the
vulnerability service cannot be reached (no network: every package comes back "not found" or the query
fails), it says so plainly and exits 0, so an offline CI run is not failed for that reason alone.
Run with .venv/bin/python (pip-audit is one of the dev dependencies).
"""

from __future__ import annotations

import glob
import json
import subprocess
import sys
from pathlib import Path

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


def main() -> int:
    if not PIP_AUDIT.exists():
        print("audit: pip-audit is not installed in .venv (make setup installs the dev dependencies)")
        return 1
    rasa_site = sorted(glob.glob(str(ROOT / ".venv-rasa" / "lib" / "python3*" / "site-packages")))
    targets = [("app (.venv)", ["-l"], True)]
    if rasa_site:
        targets.append(("engine (.venv-rasa)", ["--path", rasa_site[-1]], False))
    failed = False
    for name, extra, strict in targets:
        state, vulnerable = audit(name, extra)
        if state == "unreachable":
            print(f"audit: {name}: NOT AUDITED — the vulnerability service (PyPI/OSV) is unreachable from "
                  "this machine; not failing CI for that")
            continue
        if state != "ok":
            print(f"audit: {name}: pip-audit failed: {state}")
            failed = failed or strict
            continue
        fixable = 0
        for dep in vulnerable:
            for vuln in dep.get("vulns") or []:  # type: ignore[attr-defined]
                fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix"
                fixable += bool(vuln.get("fix_versions"))
                print(f"audit: {name}: {dep['name']} {dep['version']}: {vuln.get('id')} (fixed in {fixes})")
        print(f"audit: {name}: {len(vulnerable)} vulnerable package(s), {fixable} finding(s) with a fix")
        if strict and fixable:
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""What a benchmark result records about the machine it ran on (retrieval and dialogue benches)."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from core.settings import REPO_ROOT


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (platform's guess where that file is missing)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          check=False).stdout.strip()


def describe() -> dict[str, Any]:
    """Date, cores, CPU, RAM, Python, commit and the load average now."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "nproc": os.cpu_count(), "cpu": cpu_model(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(), "commit": git("rev-parse", "--short", "HEAD"),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
    }

"""One mask for every log record of a process (core.pii.mask_log_records): a handler added afterwards by
someone else (Rasa, Sanic, aiohttp's access log) writes masked messages and masked tracebacks."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from core.pii import mask_log_records
from core.settings import REPO_ROOT, Settings

SCRIPT = """
import io, logging
from core.pii import mask_log_records
mask_log_records()
mask_log_records()  # idempotent
out = io.StringIO()
handler = logging.StreamHandler(out)  # added later, no filter of ours
logging.getLogger().addHandler(handler)
logging.getLogger().setLevel(logging.DEBUG)
logging.getLogger("aiohttp.access").info('127.0.0.1 "GET /catalog?q=%s HTTP/1.1" 200', "13912345678")
try:
    raise ValueError("bad input 6222021234567890123 11010519491231002X")
except ValueError:
    logging.getLogger("rasa.core.processor").exception("turn failed for %s", "13912345678")
print(out.getvalue())
"""


def test_a_handler_added_later_writes_only_masked_text() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO_ROOT,
                            timeout=60, check=True)
    assert "13912345678" not in result.stdout and "11010519491231002X" not in result.stdout
    assert result.stdout.count("〔手机号〕") == 2 and "〔身份证号〕" in result.stdout
    assert "Traceback" in result.stdout and "ValueError" in result.stdout


def test_the_engine_launcher_masks_too() -> None:
    # engine/launch.py installs the same mask before Rasa configures its logging
    python = Path(Settings().rasa_bin).parent / "python"
    if not python.exists():
        pytest.skip(f"no engine virtualenv ({python})")
    code = ("import logging, engine.launch as l; from core.pii import mask_log_records; "
            "l.mask_log_records(); logging.basicConfig(); logging.getLogger('x').warning('13912345678'); "
            "print(getattr(logging.getLogRecordFactory(), '_civic_masked', False))")
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=120, check=False)
    assert done.stdout.strip() == "True", done.stderr[-500:]
    assert "13912345678" not in done.stderr and "〔手机号〕" in done.stderr


def test_in_process() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    previous = logging.getLogRecordFactory()
    try:
        mask_log_records()
        logger = logging.getLogger("civic.test.mask")
        logger.addHandler(handler)
        logger.warning("call me at %s", "13912345678")
    finally:
        logging.setLogRecordFactory(previous)
        logging.getLogger("civic.test.mask").removeHandler(handler)
    assert stream.getvalue().strip() == "call me at 〔手机号〕"

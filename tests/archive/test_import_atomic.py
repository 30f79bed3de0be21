"""Each file lands in one transaction: a crash or Ctrl-C mid-file leaves the archive as it was before it."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from archive.importers import import_paths
from archive.store import Archive
from core.settings import REPO_ROOT
from tests.archive.helpers import record, write_jsonl


def snapshot(archive: Archive) -> tuple[object, ...]:
    docs = [(d.id, d.version, d.body) for d in archive.iter_documents()]
    versions = archive.db.execute("SELECT id, version, body FROM versions ORDER BY id, version").fetchall()
    return (docs, versions, archive.changes_since(0), archive.stats())


@pytest.mark.parametrize("exc", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_interrupt_after_n_records_leaves_archive_unchanged(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    with Archive(home / "archive.db") as archive:
        first = write_jsonl(tmp_path / "first.jsonl", [record(f"d{i}") for i in range(5)])
        assert import_paths(archive, [first]).ok
        before = snapshot(archive)

        # second file: changes two existing records and adds new ones; it dies after 4 records
        rows = [record("d0", body="改"), record("d1", body="改")] + [record(f"n{i}") for i in range(6)]
        second = write_jsonl(tmp_path / "second.jsonl", rows)
        real_upsert = Archive.upsert
        calls = {"n": 0}

        def dying_upsert(self: Archive, doc: object) -> object:
            calls["n"] += 1
            if calls["n"] > 4:
                raise exc
            return real_upsert(self, doc)  # type: ignore[arg-type]

        monkeypatch.setattr(Archive, "upsert", dying_upsert)
        with pytest.raises(type(exc)):
            import_paths(archive, [second])
        assert calls["n"] == 5
        assert snapshot(archive) == before
        monkeypatch.undo()

        # the archive is still usable and the same file now lands completely
        report = import_paths(archive, [second])
        assert (report.total("added"), report.total("changed")) == (6, 2)


def test_earlier_files_stay_when_a_later_file_dies(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok = write_jsonl(tmp_path / "a.jsonl", [record("a1"), record("a2")])
    bad = write_jsonl(tmp_path / "b.jsonl", [record("b1"), record("b2")])
    with Archive(home / "archive.db") as archive:
        real_upsert = Archive.upsert

        def upsert(self: Archive, doc: object) -> object:
            if getattr(doc, "id", "") == "b2":
                raise RuntimeError("crash")
            return real_upsert(self, doc)  # type: ignore[arg-type]

        monkeypatch.setattr(Archive, "upsert", upsert)
        with pytest.raises(RuntimeError):
            import_paths(archive, [ok, bad])
        assert [d.id for d in archive.iter_documents()] == ["a1", "a2"]
    # a fresh connection sees the same committed state (nothing half-written on disk)
    with Archive(home / "archive.db") as reopened:
        assert [d.id for d in reopened.iter_documents()] == ["a1", "a2"]


def read_some(fd: int) -> bytes:
    """What the terminal shows within 0.2 s (b"" once the child closed its side: EIO on Linux)."""
    if not select.select([fd], [], [], 0.2)[0]:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""


def test_ctrl_c_on_the_real_command_rolls_back_the_file(home: Path, tmp_path: Path) -> None:
    """SIGINT to a running `civic import` leaves the archive as before the file, and exits 130.

    The signal goes when a user would press Ctrl-C: once the progress bar is on the terminal (a pty),
    so a slow start-up on a loaded machine cannot make it land before the import began.
    """
    civic = str(REPO_ROOT / ".venv" / "bin" / "civic")
    small = write_jsonl(tmp_path / "small.jsonl", [record("keep1"), record("keep2")])
    assert subprocess.run([civic, "--home", str(home), "import", str(small)], timeout=120).returncode == 0
    big = write_jsonl(tmp_path / "big.jsonl", [record(f"big{i:06d}") for i in range(60_000)])
    master, slave = pty.openpty()
    # a terminal has a size; tqdm draws nothing on a 0-column pty
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        [civic, "--home", str(home), "import", str(big)], stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 120
    while b"rec" not in seen and time.monotonic() < deadline and proc.poll() is None:
        seen += read_some(master)
    assert proc.poll() is None, f"the import finished before it could be interrupted: {seen!r}"
    assert b"big.jsonl" in seen, seen
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=120)
    err = seen + read_some(master)
    os.close(master)
    assert proc.returncode == 130, err
    with Archive(home / "archive.db") as archive:
        assert [d.id for d in archive.iter_documents()] == ["keep1", "keep2"]
        assert archive.stats()["documents"] == {"total": 2, "versions": 2}

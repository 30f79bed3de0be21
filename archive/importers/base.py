"""What every format reader yields, and what an import reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RawRecord:
    """One record as read from a file: its line (or position) and either its data or why it is unreadable."""

    line: int
    data: dict[str, Any] | None = None
    error: str = ""


@dataclass
class Reject:
    path: str
    line: int
    reason: str  # a stable code from archive.validate
    message: str
    id: str = ""

    def __str__(self) -> str:
        ident = f" [{self.id}]" if self.id else ""
        return f"{self.path}:{self.line}: {self.reason}{ident}: {self.message}"


@dataclass
class FileReport:
    path: str
    format: str = ""
    encoding: str = ""
    kind: str = "documents"  # documents | applications
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)
    error: str = ""  # the whole file could not be read or was rolled back

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    @property
    def ok(self) -> bool:
        return not self.rejects and not self.error

    def summary(self) -> str:
        if self.error:
            return f"{self.path}: not imported: {self.error}"
        return (
            f"{self.path} ({self.format}, {self.encoding}, {self.kind}): {self.added} added, "
            f"{self.changed} changed, {self.unchanged} unchanged, {self.rejected} rejected"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rejected": self.rejected}


@dataclass
class ImportReport:
    files: list[FileReport] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.files)

    @property
    def changes(self) -> int:
        return self.total("added") + self.total("changed")

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        totals = {k: self.total(k) for k in ("added", "changed", "unchanged", "rejected")}
        return {"ok": self.ok, "totals": totals, "files": [f.to_dict() for f in self.files]}

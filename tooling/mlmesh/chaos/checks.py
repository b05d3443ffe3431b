"""One audited property: what was expected, what the stores hold, the mismatches."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Check:
    name: str
    expected: int
    observed: int
    mismatches: list[str] = field(default_factory=list)
    skipped: str = ""

    @property
    def ok(self) -> bool:
        return not self.skipped and not self.mismatches

    def add(self, what: str) -> None:
        self.mismatches.append(what)

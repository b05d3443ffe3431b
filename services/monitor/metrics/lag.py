"""Consumer lag: log-end offset minus committed offset, per group/partition."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TopicPart = tuple[str, int]


@dataclass(frozen=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(0, self.end - self.committed)


def compute_lag(committed: Mapping[str, Mapping[TopicPart, int]],
                end_offsets: Mapping[TopicPart, int]) -> list[PartitionLag]:
    """``committed[group][(topic, partition)]`` against the end offsets.

    A partition a group never committed (offset < 0) is skipped: there is no
    position to measure from (it will read from its auto.offset.reset point).
    """
    out: list[PartitionLag] = []
    for group in sorted(committed):
        for (topic, part), offset in sorted(committed[group].items()):
            end = end_offsets.get((topic, part))
            if offset < 0 or end is None or end < 0:
                continue
            out.append(PartitionLag(group, topic, part, offset, end))
    return out

"""monitor.seek.add_gap builds the same offset-gap tree as faust's own
``addi`` + ``merge_overlaps`` (which rebuilds the tree per gap), on gap
sequences like the consumer's: increasing skips (a transaction marker between
reads) and, after a seek back, gaps again over ranges already recorded."""

from __future__ import annotations

import random

import pytest
from intervaltree import IntervalTree

from monitor.seek import add_gap


def faust_way(tree: IntervalTree, begin: int, end: int) -> None:
    tree.addi(begin, end)
    tree.merge_overlaps()


def gaps(rng: random.Random, n: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    offset = 0
    for _ in range(n):
        if out and rng.random() < 0.05:  # a seek back: read the same range again
            offset = max(0, offset - rng.randint(1, 40))
        read = offset + rng.randint(1, 6)  # records of one transaction
        skip = rng.randint(1, 3)  # markers (and aborted records) passed over
        out.append((read + 1, read + skip + 1))
        offset = read + skip
    return out


@pytest.mark.parametrize("seed", range(20))
def test_same_tree_as_faust(seed: int) -> None:
    rng = random.Random(seed)
    ours, theirs = IntervalTree(), IntervalTree()
    for begin, end in gaps(rng, 400):
        add_gap(ours, begin, end)
        faust_way(theirs, begin, end)
        if rng.random() < 0.02:  # a commit chops what it passed
            cut = rng.randint(0, end)
            ours.chop(0, cut)
            theirs.chop(0, cut)
    assert sorted(ours) == sorted(theirs)
    assert len(theirs) > 10


def test_overlapping_gap_merges_into_one() -> None:
    tree = IntervalTree()
    for begin, end in [(5, 7), (10, 12), (20, 22)]:
        add_gap(tree, begin, end)
    add_gap(tree, 6, 11)
    assert sorted((i.begin, i.end) for i in tree) == [(5, 12), (20, 22)]

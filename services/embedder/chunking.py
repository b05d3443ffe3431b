"""Token-aware chunking with overlap, counted with the model's own tokenizer.

A text of at most ``max_tokens`` word-piece tokens is one chunk. A longer text
is cut into windows of ``max_tokens`` tokens that start ``max_tokens - overlap``
tokens apart, so consecutive chunks share ``overlap`` tokens of context. Cuts
are snapped back to the start of a word (never inside a word: a word cut in
two would tokenize differently and could exceed the limit), and a chunk's text
is the exact slice of the input between its first and last token, so
re-tokenizing a chunk gives at most ``max_tokens`` tokens, within the model's
256-token input (254 without [CLS]/[SEP]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class TokenOffsets(Protocol):
    def token_offsets(self, text: str) -> list[tuple[int, int]]: ...


@dataclass(frozen=True)
class Chunk:
    index: int
    text: str
    tokens: int
    start: int  # character offsets in the (redacted) document text
    end: int


class Chunker:
    def __init__(self, tokenizer: TokenOffsets, max_tokens: int = 200, overlap: int = 32,
                 model_limit: int = 254) -> None:
        if not 0 < max_tokens <= model_limit:
            raise ValueError(f"max_tokens must be in 1..{model_limit}, got {max_tokens}")
        if not 0 <= overlap < max_tokens // 2:
            raise ValueError(f"overlap must be in 0..{max_tokens // 2 - 1}, got {overlap}")
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.overlap = overlap

    def split(self, text: str) -> list[Chunk]:
        offsets = self.tokenizer.token_offsets(text)
        n = len(offsets)
        if n == 0:
            return []
        if n <= self.max_tokens:
            a, b = offsets[0][0], offsets[-1][1]
            return [Chunk(0, text[a:b], n, a, b)]
        starts = [_word_start(text, offsets, i) for i in range(n)]
        chunks: list[Chunk] = []
        begin = 0
        while True:
            end = min(begin + self.max_tokens, n)
            if end < n:
                end = _snap_back(starts, end, floor=begin + self.max_tokens // 2)
            a, b = offsets[begin][0], offsets[end - 1][1]
            chunks.append(Chunk(len(chunks), text[a:b], end - begin, a, b))
            if end >= n:
                return chunks
            nxt = _snap_back(starts, end - self.overlap, floor=begin + 1)
            begin = nxt


def _word_start(text: str, offsets: list[tuple[int, int]], i: int) -> bool:
    """True when token ``i`` begins a new word (not a ``##`` continuation)."""
    if i == 0:
        return True
    start, prev_end = offsets[i][0], offsets[i - 1][1]
    if start != prev_end:
        return True  # whitespace between them
    return not (text[start].isalnum() and text[prev_end - 1].isalnum())


def _snap_back(starts: list[bool], i: int, floor: int) -> int:
    """The largest word-start index in ``[floor, i]``; ``i`` when none (a word
    longer than the window has to be cut somewhere)."""
    j = i
    while j > floor and not starts[j]:
        j -= 1
    return j if starts[j] else i

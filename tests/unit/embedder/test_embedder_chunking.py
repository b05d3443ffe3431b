"""Token-aware chunking: limits, overlap, word boundaries (the real MiniLM tokenizer)."""

from __future__ import annotations

import itertools
import random

import pytest

from embedder.chunking import Chunker
from mlmesh.embedding.tokenizer import MiniLMTokenizer


@pytest.fixture(scope="module")
def tok() -> MiniLMTokenizer:
    return MiniLMTokenizer()


def _text(n_words: int, seed: int = 1) -> str:
    rnd = random.Random(seed)
    vocab = ["alpha", "beta", "unbelievably", "tokenization", "of", "the", "payments,",
             "refund.", "customer", "wrote:", "12345", "éclair", "naïve", "x", "(delivery)"]
    return " ".join(rnd.choice(vocab) for _ in range(n_words))


def test_short_text_is_one_chunk(tok: MiniLMTokenizer) -> None:
    chunks = Chunker(tok, max_tokens=50, overlap=8).split("  hello there, world  ")
    assert [c.text for c in chunks] == ["hello there, world"]
    assert chunks[0].index == 0 and chunks[0].tokens == tok.count_tokens("hello there, world")


def test_empty_text_has_no_chunks(tok: MiniLMTokenizer) -> None:
    assert Chunker(tok).split("   \n ") == []


@pytest.mark.parametrize(("max_tokens", "overlap"), [(200, 32), (64, 16), (30, 0)])
def test_long_text_respects_limit_and_overlap(tok: MiniLMTokenizer, max_tokens: int,
                                               overlap: int) -> None:
    text = _text(900)
    chunks = Chunker(tok, max_tokens=max_tokens, overlap=overlap).split(text)
    total = tok.count_tokens(text)
    assert len(chunks) >= total // max_tokens
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert tok.count_tokens(c.text) <= max_tokens  # re-tokenized, still within limit
        assert c.text == text[c.start:c.end]
        assert c.text == c.text.strip()
    # consecutive chunks overlap by roughly `overlap` tokens, never more than the window
    for a, b in itertools.pairwise(chunks):
        assert b.start > a.start
        if overlap:
            assert b.start < a.end
            shared = tok.count_tokens(text[b.start:a.end])
            assert overlap - 8 <= shared <= overlap + 8
        else:
            assert b.start >= a.end
    # full coverage: every character of the text is in some chunk
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for a, b in itertools.pairwise(chunks):
        assert b.start <= a.end + 1


def test_cuts_on_word_boundaries(tok: MiniLMTokenizer) -> None:
    text = " ".join(["unbelievably"] * 300)  # several word pieces per word
    for c in Chunker(tok, max_tokens=40, overlap=6).split(text):
        assert c.text.split(" ")[0] == "unbelievably" and c.text.split(" ")[-1] == "unbelievably"


def test_rejects_bad_config(tok: MiniLMTokenizer) -> None:
    with pytest.raises(ValueError):
        Chunker(tok, max_tokens=300)
    with pytest.raises(ValueError):
        Chunker(tok, max_tokens=40, overlap=20)

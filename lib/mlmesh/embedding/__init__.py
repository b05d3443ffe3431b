"""all-MiniLM-L6-v2 embeddings: tokenizer wrapper and clients (Triton, in-process ONNX)."""

from mlmesh.embedding.client import (
    DIM,
    Embedder,
    EmbeddingError,
    EmbeddingUnavailable,
    OnnxEmbedder,
    TritonEmbedder,
)
from mlmesh.embedding.tokenizer import MiniLMTokenizer

__all__ = ["DIM", "Embedder", "EmbeddingError", "EmbeddingUnavailable", "MiniLMTokenizer",
           "OnnxEmbedder", "TritonEmbedder"]

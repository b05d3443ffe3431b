"""Fixed text sets that measure a reduced-precision copy of the embedding model
against the fp32 graph (``make models`` and ``bench/embedding_int8.py``).

* ``documents``: texts shaped like the ones the mesh embeds (support tickets,
  reviews, chats after PII redaction, one to a dozen sentences), deterministic;
* ``retrieval_set``: a corpus and queries written from the same vocabulary, for
  recall@k of the reduced model's neighbours against the fp32 model's.

Cosine to fp32 per text and recall@k are what a user of search feels: a vector
that points elsewhere ranks other chunks first.
"""

from __future__ import annotations

import random

import numpy as np

TOPICS = (
    "my order arrived late", "the checkout page keeps failing", "I love the new recommendations",
    "please update my shipping address", "refund for the broken headphones",
    "the app logs me out every hour", "great support experience today",
    "search results are not relevant", "how do I change my password",
    "the discount code did not apply", "the parcel was left at the wrong door",
    "my card was charged twice", "the tracking number does not work",
    "the size guide is confusing", "delivery was faster than promised",
    "the subscription renewed without warning", "the battery drains in two hours",
    "I cannot download my invoice", "the courier never rang the bell",
    "the replacement arrived damaged as well",
)
OPENERS = ("Hi,", "Hello team,", "Dear support,", "Quick question:", "Review:", "Chat:", "")
CLOSERS = ("Thanks.", "Please help.", "Five stars.", "Very disappointed.",
           "You can reach me at <EMAIL>.", "or call <PHONE>.", "Order <NUM> placed last week.", "")


def _document(rng: random.Random) -> str:
    parts = [rng.choice(OPENERS), rng.choice(TOPICS) + "."]
    for _ in range(rng.choice((0, 0, 1, 2, 4, 8))):
        parts.append(rng.choice(TOPICS).capitalize() + ".")
    parts.append(rng.choice(CLOSERS))
    return " ".join(p for p in parts if p).strip()


def documents(n: int = 256, seed: int = 11) -> list[str]:
    """``n`` distinct documents (deterministic for a seed)."""
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        out[_document(rng)] = None
    return list(out)


def retrieval_set(corpus: int = 2000, queries: int = 100, seed: int = 23
                  ) -> tuple[list[str], list[str]]:
    """A corpus of documents and short queries about their topics."""
    docs = documents(corpus, seed)
    rng = random.Random(seed + 1)
    asks = [f"{rng.choice(('problem with', 'question about', 'feedback on'))} "
            f"{rng.choice(TOPICS)}" for _ in range(queries)]
    return docs, asks


def cosines(ref: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two [n, d] float arrays."""
    rn = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
    return np.asarray((ref * got).sum(axis=1) / np.maximum(rn, 1e-12))


def recall_at_k(ref_docs: np.ndarray, ref_queries: np.ndarray, got_docs: np.ndarray,
                got_queries: np.ndarray, k: int = 10) -> float:
    """Mean share of each query's fp32 top-k (``ref``) found in the reduced
    model's top-k (``got``), both searched exactly (cosine on normalised vectors)."""
    def top(docs: np.ndarray, qs: np.ndarray) -> np.ndarray:
        sims = qs @ docs.T
        return np.argsort(-sims, axis=1, kind="stable")[:, :k]

    want, have = top(ref_docs, ref_queries), top(got_docs, got_queries)
    hits = [len(set(w) & set(h)) / k for w, h in zip(want.tolist(), have.tolist(), strict=True)]
    return float(np.mean(hits))

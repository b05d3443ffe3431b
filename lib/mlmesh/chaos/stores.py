"""What the stores hold, read back for the audit: Feast offline (Parquet) and
online rows, and Milvus chunk rows. Each reader raises ``StoreUnavailable`` with
the reason when its store or package is absent, so the audit can say so."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from mlmesh.chaos.reference import FEATURES, Key, Values


class StoreUnavailable(RuntimeError):
    pass


def _ms(ts: Any) -> int:
    if isinstance(ts, datetime):
        return round(ts.timestamp() * 1000)
    if hasattr(ts, "value"):  # pandas Timestamp: ns
        return int(ts.value // 1_000_000)
    n = int(ts)
    return n * 1000 if n < 100_000_000_000 else n  # Feast online answers epoch seconds


CREATED = "__created_ms"


def offline_rows(state_dir: Path, views: Iterable[str] = FEATURES,
                 ) -> dict[Key, list[Values]]:
    """Every Parquet row the writer appended: (user, view, end) -> value sets
    (each with its ``created`` under ``CREATED``), oldest first."""
    import pyarrow.parquet as pq

    root = Path(state_dir) / "features" / "offline"
    if not root.is_dir():
        raise StoreUnavailable(f"no offline store at {root}")
    out: dict[Key, list[Values]] = defaultdict(list)
    for view in views:
        for f in sorted((root / view).glob("*.parquet")):
            table = pq.read_table(f).to_pydict()
            ends, created = table["event_timestamp"], table.get("created")
            for i, user in enumerate(table["user_id"]):
                vals = {name: float(table[name][i]) for name in FEATURES[view] if name in table}
                vals[CREATED] = float(_ms(created[i])) if created else 0.0
                out[(str(user), view, _ms(ends[i]))].append(vals)
    for rows in out.values():  # oldest write first: the last one is what wins
        rows.sort(key=lambda v: v[CREATED])
    return out


def online_rows(state_dir: Path, users: Sequence[str], views: Iterable[str] = FEATURES,
                ) -> dict[tuple[str, str], tuple[int | None, Values]]:
    """(user, view) -> (window end or None, values) as Feast online serves them."""
    try:
        from features.store import FeastStore
    except ImportError as exc:
        raise StoreUnavailable(f"features package not importable: {exc}") from exc
    if not (Path(state_dir) / "features" / "registry.db").exists():
        raise StoreUnavailable("no Feast registry (feature writer never ran)")
    store = FeastStore(Path(state_dir)).open(apply=False)
    out: dict[tuple[str, str], tuple[int | None, Values]] = {}
    for view in views:
        names = FEATURES[view]
        for i in range(0, len(users), 500):
            chunk = list(users[i:i + 500])
            resp = store.get_online_features(
                features=[f"{view}:{n}" for n in names],
                entity_rows=[{"user_id": u} for u in chunk],
            ).to_dict(include_event_timestamps=True)
            for j, user in enumerate(resp["user_id"]):
                ts = resp.get(f"{names[0]}__ts", [None] * len(chunk))[j]
                vals = {n: resp[n][j] for n in names}
                if all(v is None for v in vals.values()):
                    continue  # nothing stored (Feast answers ts 0 and None values)
                out[(str(user), view)] = (_ms(ts) if ts is not None else None,
                                          {k: float(v) for k, v in vals.items()
                                           if v is not None})
    return out


def milvus_chunks(uri: str, collection: str = "doc_chunks",
                  ) -> dict[tuple[str, str], list[int]]:
    """(doc_id, model_version) -> every chunk_index stored (duplicates kept)."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise StoreUnavailable(f"pymilvus not importable: {exc}") from exc
    client = MilvusClient(uri=uri, timeout=30)
    try:
        if collection not in client.list_collections():
            raise StoreUnavailable(f"no collection {collection!r} in Milvus at {uri}")
        client.load_collection(collection)
        it = client.query_iterator(collection, batch_size=2000, filter="",
                                   output_fields=["chunk_id", "doc_id", "chunk_index",
                                                  "model_version"])
        out: dict[tuple[str, str], list[int]] = defaultdict(list)
        while True:
            page = it.next()
            if not page:
                break
            for row in page:
                out[(str(row["doc_id"]), str(row["model_version"]))].append(
                    int(row["chunk_index"]))
        it.close()
        return out
    finally:
        client.close()


def expected_chunk_counts(texts: dict[str, str]) -> dict[str, int]:
    """doc_id -> number of chunks the embedder's own chunker makes of the
    redacted text (its settings from the environment, as the service reads them)."""
    try:
        from embedder.chunking import Chunker
        from embedder.pii import redact
        from embedder.settings import Settings
        from mlmesh.embedding.tokenizer import MiniLMTokenizer
    except ImportError as exc:
        raise StoreUnavailable(f"embedder package not importable: {exc}") from exc
    s = Settings()
    tok = MiniLMTokenizer()
    chunker = Chunker(tok, s.chunk_tokens, s.chunk_overlap,
                      model_limit=tok.max_content_tokens)
    return {doc_id: len(chunker.split(redact(text).text)) for doc_id, text in texts.items()}

"""The ``doc_chunks`` collection in Milvus: schema, idempotent writes, search.

One row per (document, chunk position, model version). The primary key is
``chunk_id = f"{doc_id}:{chunk_index}@{model_version}"``: deterministic, so a
replayed or re-sent document overwrites its own rows (upsert), and rows of two
model versions coexist while a re-embed runs (search filters on one version).
``user_id`` is a plain filtered scalar by default (milvus-lite 2.4 cannot
filter on a partition-key field, milvus#43163); ``partition_key=True`` makes it
the partition key on a real Milvus server.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pymilvus import DataType, MilvusClient

from mlmesh.common import milvus_lite

log = logging.getLogger(__name__)

QUERY_LIMIT = 16384  # Milvus' query result window
OUTPUT_FIELDS = ["chunk_id", "user_id", "doc_id", "chunk_index", "text", "source",
                 "model_name", "model_version", "text_hash", "created_at_ms", "embedded_at_ms"]


class CollectionNameError(ValueError):
    """The configured collection name cannot hold an index on this server."""


def chunk_id(doc_id: str, index: int, model_version: str) -> str:
    return f"{doc_id}:{index}@{model_version}"


def quote(value: str) -> str:
    """A string literal for a Milvus filter expression."""
    return json.dumps(value)


def quote_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(quote(v) for v in values) + "]"


@dataclass(frozen=True)
class StoreConfig:
    uri: str
    collection: str = "doc_chunks"
    dim: int = 384
    index_type: str = "FLAT"
    metric_type: str = "COSINE"
    partition_key: bool = False
    consistency_level: str = "Strong"
    timeout_s: float = 15.0
    upsert_rows: int = 1000


def _index_params(index_type: str) -> dict[str, Any]:
    return {"IVF_FLAT": {"nlist": 256}, "HNSW": {"M": 16, "efConstruction": 200}}.get(
        index_type.upper(), {})


def search_params(index_type: str) -> dict[str, Any]:
    return {"IVF_FLAT": {"nprobe": 32}, "HNSW": {"ef": 128}}.get(index_type.upper(), {})


class ChunkStore:
    def __init__(self, config: StoreConfig, client: MilvusClient | None = None) -> None:
        self.config = config
        self._client = client
        self._ready = False
        # pymilvus bounds its internal retries by `timeout` only when it is an int
        # (a float falls back to 75 retries with back-off: minutes of blocking).
        self._timeout = max(1, round(config.timeout_s))

    @property
    def client(self) -> MilvusClient:
        if self._client is None:
            # a connection of our own: pymilvus otherwise shares one per URI in the
            # process, and any other client closing it breaks ours
            self._client = MilvusClient(uri=self.config.uri, timeout=self._timeout,
                                        alias=f"mlmesh-embedder-{uuid.uuid4().hex[:12]}")
        return self._client

    # -- schema ------------------------------------------------------------
    def ensure(self) -> None:
        """Create the collection (and index) if missing, and load it. Idempotent;
        called again after any failure (the server may have restarted)."""
        c, name = self.client, self.config.collection
        if not c.has_collection(name, timeout=self._timeout):
            self._create()
        elif not c.list_indexes(name, field_name="vector", timeout=self._timeout):
            # a creator stopped between the collection and its index: searching a
            # collection loaded without an index fails ("index meta not exist")
            with contextlib.suppress(Exception):
                c.release_collection(name, timeout=self._timeout)
            try:
                c.create_index(name, self._index(), timeout=self._timeout)
            except Exception as exc:
                self._explain(exc)
                raise
            log.warning("vector index was missing; created", extra={"collection": name})
        c.load_collection(name, timeout=self._timeout)
        self._ready = True

    def _index(self) -> Any:
        cfg = self.config
        index = self.client.prepare_index_params()
        index.add_index("vector", index_type=cfg.index_type.upper(),
                        metric_type=cfg.metric_type.upper(), params=_index_params(cfg.index_type))
        return index

    def _create(self) -> None:
        cfg = self.config
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False,
                                            description="document chunks (redacted) + vectors")
        schema.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("user_id", DataType.VARCHAR, max_length=64,
                         is_partition_key=cfg.partition_key)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=128)
        schema.add_field("chunk_index", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=65535)
        schema.add_field("source", DataType.VARCHAR, max_length=128)
        schema.add_field("model_name", DataType.VARCHAR, max_length=128)
        schema.add_field("model_version", DataType.VARCHAR, max_length=32)
        schema.add_field("text_hash", DataType.VARCHAR, max_length=64)
        schema.add_field("created_at_ms", DataType.INT64)
        schema.add_field("embedded_at_ms", DataType.INT64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=cfg.dim)
        index = self._index()
        kwargs: dict[str, Any] = {}
        if cfg.partition_key:
            kwargs["num_partitions"] = 16
        try:
            self.client.create_collection(cfg.collection, schema=schema, index_params=index,
                                          consistency_level=cfg.consistency_level,
                                          timeout=self._timeout, **kwargs)
        except Exception as exc:
            if milvus_lite.index_unsafe(cfg.collection):
                # the collection exists, its index was not stored: drop the empty
                # collection rather than leave one that fails every search
                with contextlib.suppress(Exception):
                    self.client.drop_collection(cfg.collection, timeout=self._timeout)
            self._explain(exc)
            raise
        log.info("collection created", extra={"collection": cfg.collection,
                                               "index": cfg.index_type,
                                               "partition_key": cfg.partition_key})

    def _explain(self, exc: Exception) -> None:
        """An index that failed for a name milvus-lite cannot index: say so."""
        name = self.config.collection
        if milvus_lite.index_unsafe(name):
            raise CollectionNameError(milvus_lite.unsafe_message(name)) from exc

    def invalidate(self) -> None:
        """After a failure: re-check the collection, on a fresh client."""
        self._ready = False
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None

    def ready_or_ensure(self) -> None:
        if not self._ready:
            self.ensure()

    # -- writes ------------------------------------------------------------
    def existing(self, doc_ids: Sequence[str], model_version: str) -> dict[str, set[int]]:
        """Chunk positions stored for these documents under ``model_version``."""
        found: dict[str, set[int]] = defaultdict(set)
        step = 256
        for i in range(0, len(doc_ids), step):
            expr = (f"model_version == {quote(model_version)} and "
                    f"doc_id in {quote_list(doc_ids[i:i + step])}")
            rows = self.client.query(self.config.collection, filter=expr,
                                     output_fields=["doc_id", "chunk_index"], limit=QUERY_LIMIT,
                                     timeout=self._timeout)
            for row in rows:
                found[str(row["doc_id"])].add(int(row["chunk_index"]))
        return found

    def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        step = max(1, self.config.upsert_rows)
        for i in range(0, len(rows), step):
            self.client.upsert(self.config.collection, list(rows[i:i + step]),
                               timeout=self._timeout)

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.client.delete(self.config.collection, ids=list(ids),
                               timeout=self._timeout)

    def delete_version(self, model_version: str) -> None:
        self.client.delete(self.config.collection,
                           filter=f"model_version == {quote(model_version)}",
                           timeout=self._timeout)

    # -- reads -------------------------------------------------------------
    def search(self, vectors: Sequence[Sequence[float]], user_id: str, model_version: str,
               limit: int = 10, output_fields: Sequence[str] = ("chunk_id", "doc_id"),
               ) -> list[list[dict[str, Any]]]:
        """Top-``limit`` chunks of ONE user under ONE model version."""
        expr = f"user_id == {quote(user_id)} and model_version == {quote(model_version)}"
        res = self.client.search(
            self.config.collection, data=[list(map(float, v)) for v in vectors],
            filter=expr, limit=limit, output_fields=list(output_fields),
            search_params={"metric_type": self.config.metric_type.upper(),
                           "params": search_params(self.config.index_type)},
            timeout=self._timeout)
        return [list(hits) for hits in res]

    def query(self, expr: str, fields: Sequence[str] = tuple(OUTPUT_FIELDS),
              limit: int = QUERY_LIMIT) -> list[dict[str, Any]]:
        return list(self.client.query(self.config.collection, filter=expr,
                                      output_fields=list(fields), limit=limit,
                                      timeout=self._timeout))

    def iterate(self, expr: str, fields: Sequence[str], batch: int = 1000,
                ) -> Iterator[list[dict[str, Any]]]:
        """Pages of every row matching ``expr`` (ordered by chunk_id)."""
        it = self.client.query_iterator(self.config.collection, batch_size=batch, filter=expr,
                                        output_fields=list(fields),
                                        timeout=self._timeout)
        try:
            while True:
                page = it.next()
                if not page:
                    return
                yield list(page)
        finally:
            it.close()

    def count(self, expr: str = "") -> int:
        rows = self.client.query(self.config.collection, filter=expr,
                                 output_fields=["count(*)"], timeout=self._timeout)
        return int(rows[0]["count(*)"])

    def ping(self) -> bool:
        try:
            self.client.has_collection(self.config.collection, timeout=3)
            return True
        except Exception:
            return False

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

"""Re-embed with a new model version, in the background, without breaking search.

Rows carry their ``model_version`` and their primary key ends in ``@<version>``,
so the vectors of two versions coexist; readers search ONE version
(``MLMESH_EMBEDDER_MODEL_VERSION``) and never mix vector spaces. Procedure:

1. Publish version N in Triton next to the live one (``TritonComponent.
   publish_onnx_version`` / a new ``<model>/<N>/`` directory; both stay loaded).
2. Fill version N, either way (both idempotent, re-runnable, safe to overlap):
   * ``python -m embedder.reembed --to-version N --mode milvus`` re-reads the
     stored (already redacted and chunked) rows of the current version from
     Milvus and upserts version-N rows: a snapshot, works whatever the topic
     retention, and
   * ``python -m embedder.reembed --to-version N --mode replay`` (or simply an
     embedder started with ``MLMESH_EMBEDDER_MODEL_VERSION=N
     MLMESH_EMBEDDER_GROUP_ID=embedder-vN``): a new consumer group replays
     ``documents`` from the beginning and keeps tailing, so documents written
     during the migration get version-N rows too.
3. When the version-N group has no lag, switch readers and the live embedder to
   ``MLMESH_EMBEDDER_MODEL_VERSION=N``; stop the old embedder.
4. ``python -m embedder.reembed --drop-version M`` deletes the old rows.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

from embedder.batcher import MicroBatcher
from embedder.settings import Settings
from embedder.store import ChunkStore, chunk_id, quote
from mlmesh.common.logging import configure_logging

log = logging.getLogger("embedder.reembed")
COPY_FIELDS = ["chunk_id", "user_id", "doc_id", "chunk_index", "text", "source", "text_hash",
               "created_at_ms"]


def reembed_from_milvus(settings: Settings, from_version: str, to_version: str,
                        page: int = 1000, triton_version: str | None = None) -> int:
    """Copy every ``from_version`` row to ``to_version`` with a fresh vector from
    Triton version ``triton_version`` (default: ``to_version``). Returns the rows
    written."""
    from embedder.app import store_config, triton_embedder

    if from_version == to_version:
        raise ValueError("--to-version must differ from the source version")
    store = ChunkStore(store_config(settings))
    store.ensure()
    embedder = triton_embedder(settings, version=triton_version or to_version)
    batcher = MicroBatcher(embedder.embed, size=settings.batch_size,
                           timeout_s=settings.batch_timeout_ms / 1000.0)
    written = 0
    started = time.monotonic()
    try:
        expr = f"model_version == {quote(from_version)}"
        for rows in store.iterate(expr, COPY_FIELDS, batch=page):
            vectors = batcher.embed([r["text"] for r in rows], settings.triton_timeout_s * 4)
            now_ms = int(time.time() * 1000)
            out: list[dict[str, Any]] = []
            for r, vec in zip(rows, vectors, strict=True):
                out.append({**{k: r[k] for k in COPY_FIELDS},
                            "chunk_id": chunk_id(r["doc_id"], int(r["chunk_index"]), to_version),
                            "model_name": settings.model_name, "model_version": to_version,
                            "embedded_at_ms": now_ms, "vector": vec.tolist()})
            store.upsert(out)
            written += len(out)
            log.info("re-embedded", extra={"rows": written,
                                           "rate": round(written / (time.monotonic() - started))})
    finally:
        batcher.close()
        embedder.close()
        store.close()
    return written


def replay(settings: Settings, to_version: str, group_id: str | None) -> int:
    """Run the embedder itself for ``to_version`` under a new consumer group."""
    from embedder.app import EmbedderService
    from mlmesh.common.lifecycle import StopSignal

    settings = settings.model_copy(update={
        "model_version": to_version, "group_id": group_id or f"{settings.group_id}-v{to_version}",
        "metrics_port": 0})
    service = EmbedderService(settings, StopSignal().install(), client_id="embedder-reembed")
    stats = service.run()
    return stats.consumed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embedder.reembed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--to-version", help="model version to fill")
    parser.add_argument("--from-version", help="source rows (default: the configured version)")
    parser.add_argument("--mode", choices=["milvus", "replay"], default="milvus")
    parser.add_argument("--triton-version", help="milvus: Triton model version to call "
                        "(default: --to-version)")
    parser.add_argument("--group-id", help="replay: consumer group (default <group>-v<N>)")
    parser.add_argument("--drop-version", help="delete every row of this version, then exit")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging("embedder-reembed", settings.log_level, settings.log_json)
    if args.drop_version:
        if args.drop_version == settings.model_version:
            parser.error(f"refusing to drop the live version {args.drop_version}")
        from embedder.app import store_config

        store = ChunkStore(store_config(settings))
        before = store.count(f"model_version == {quote(args.drop_version)}")
        store.delete_version(args.drop_version)
        log.info("dropped version", extra={"version": args.drop_version, "rows": before})
        store.close()
        return 0
    if not args.to_version:
        parser.error("--to-version is required")
    if args.mode == "replay":
        replay(settings, args.to_version, args.group_id)
        return 0
    n = reembed_from_milvus(settings, args.from_version or settings.model_version,
                            args.to_version, triton_version=args.triton_version)
    log.info("re-embed complete", extra={"rows": n, "to_version": args.to_version})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the stores hold, read back for the audit: the features' tile deltas
(offline Parquet), each user's tiles (Feast online) and point-in-time values
(Feast offline), and Milvus chunk rows. Each reader raises ``StoreUnavailable`` with
the reason when its store or package is absent, so the audit can say so."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlmesh.chaos.reference import ACTIONS, Values

if TYPE_CHECKING:
    from features.store import FeastStore
    from features.tiles import UserTiles


class StoreUnavailable(RuntimeError):
    pass


def _ms(ts: Any) -> int:
    if isinstance(ts, datetime):
        return round(ts.timestamp() * 1000)
    if hasattr(ts, "value"):  # pandas Timestamp: ns
        return int(ts.value // 1_000_000)
    return int(ts)


# The offline tile deltas: <state>/features/offline/<DELTA_VIEW>/*.parquet, one
# row per delta the writer folded in (features.tile_store._write_offline).
DELTA_VIEW = "tile_delta_1m"
DELTA_VALUES: tuple[str, ...] = ("events", "amount", *ACTIONS.values(), "docs")


@dataclass(frozen=True)
class DeltaRow:
    """One offline tile-delta row, as the writer appended it."""

    user_id: str
    tile_start: int
    values: Values
    min_ts: int
    max_ts: int
    partition: int
    offset: int
    created_ms: int

    @property
    def position(self) -> tuple[int, int]:
        return (self.partition, self.offset)

    def content(self) -> tuple[Any, ...]:
        """What a replay of the same delta must repeat exactly."""
        return (self.user_id, self.tile_start, self.min_ts, self.max_ts,
                *(self.values.get(n, 0.0) for n in DELTA_VALUES))


def offline_deltas(state_dir: Path) -> list[DeltaRow]:
    """Every tile-delta row in the Parquet offline store (replays included),
    read straight from the files (no Feast), in file order."""
    import pyarrow.parquet as pq

    root = Path(state_dir) / "features" / "offline"
    if not root.is_dir():
        raise StoreUnavailable(f"no offline store at {root}")
    cols = ["user_id", "tile_start", *DELTA_VALUES, "min_ts", "max_ts", "kafka_partition",
            "kafka_offset", "created"]
    out: list[DeltaRow] = []
    for f in sorted((root / DELTA_VIEW).glob("*.parquet")):
        t = pq.read_table(f, columns=cols).to_pydict()
        for i, user in enumerate(t["user_id"]):
            out.append(DeltaRow(
                str(user), int(t["tile_start"][i]),
                {n: float(t[n][i]) for n in DELTA_VALUES}, int(t["min_ts"][i]),
                int(t["max_ts"][i]), int(t["kafka_partition"][i]), int(t["kafka_offset"][i]),
                _ms(t["created"][i])))
    return out


def feast_store(state_dir: Path) -> FeastStore:
    """The state dir's Feast store, opened without applying definitions (the
    audit writes nothing; the registry is the writer's)."""
    try:
        from features.store import FeastStore
    except ImportError as exc:
        raise StoreUnavailable(f"features package not importable: {exc}") from exc
    if not (Path(state_dir) / "features" / "registry.db").exists():
        raise StoreUnavailable("no Feast registry (feature writer never ran)")
    store = FeastStore(Path(state_dir))
    store.open(apply=False)  # cached: TileStore.read's open() must not apply
    return store


def online_tiles(store: FeastStore, users: Sequence[str], gap_ms: int,
                 ) -> dict[str, UserTiles | None]:
    """user -> the tiles Feast online holds (the ``user_tiles`` row; None: no row)."""
    from features.tile_store import TileStore
    from features.tiles import TILES_VIEW

    try:
        store._view(TILES_VIEW)
    except Exception as exc:  # Feast's FeatureViewNotFoundException and kin
        raise StoreUnavailable(f"no {TILES_VIEW} view in the Feast registry: {exc}") from exc
    tiles = TileStore(store, gap_ms)
    out: dict[str, UserTiles | None] = {}
    for i in range(0, len(users), 500):
        out.update(tiles.read(list(users[i:i + 500])))
    return out


def offline_values(store: FeastStore, rows: Sequence[tuple[str, int]], gap_ms: int,
                   ) -> list[Values]:
    """``features.offline.historical``: each (user, t)'s values from the
    offline deltas through Feast's offline-store interface."""
    from features.offline import historical

    return historical(store, list(rows), gap_ms)


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

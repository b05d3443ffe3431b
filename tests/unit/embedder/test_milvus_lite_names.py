"""The milvus-lite collection-id model (mlmesh.common.milvus_lite): libstdc++'s
std::hash reproduced on ids read back from a milvus-lite database, the name a CI
run failed on flagged, the defaults safe, and the test helper never handing out
a name milvus-lite cannot index."""

from __future__ import annotations

from embedder.settings import Settings as EmbedderSettings
from inference.settings import Settings as InferenceSettings
from mlmesh.common.milvus_lite import collection_id, index_unsafe, std_hash
from mlmesh.testing.milvus import collection_name


def test_hash_matches_ids_milvus_lite_stored() -> None:
    # collection ids read from the index metadata of a milvus-lite 2.4.12 database
    assert std_hash(b"idx_a853cf89") == 3709919919863873076
    assert std_hash(b"idx_ebc1e971") == 16841737220268600903
    assert collection_id("idx_ebc1e971") == 16841737220268600903 - (1 << 64)


def test_names_that_failed_are_flagged_and_others_are_not() -> None:
    for name in ("idx_93389c79",):  # "Add index failed, err: unrecognized token"
        assert index_unsafe(name)
    for name in ("idx_a853cf89", "idx_ebc1e971", "idx_9a53e799", "idx_4d290af5"):
        assert not index_unsafe(name)


def test_the_default_collection_is_indexable() -> None:
    assert not index_unsafe(EmbedderSettings().collection)
    assert not index_unsafe(InferenceSettings().milvus_collection)


def test_about_one_name_in_256_is_unsafe_and_the_helper_skips_them() -> None:
    names = [f"doc_chunks_{i}" for i in range(20000)]
    unsafe = sum(index_unsafe(n) for n in names)
    assert 20000 / 256 * 0.6 < unsafe < 20000 / 256 * 1.4
    drawn = [collection_name("doc_chunks_") for _ in range(3000)]
    assert not any(index_unsafe(n) for n in drawn)
    assert len(set(drawn)) == 3000

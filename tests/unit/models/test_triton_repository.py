"""The committed Triton model repositories parse as ModelConfig and assemble
into runnable repositories (artifacts placed, runtime versions kept)."""

from __future__ import annotations

from pathlib import Path

import pytest

model_config_pb2 = pytest.importorskip("tritonclient.grpc.model_config_pb2")
from google.protobuf import text_format  # noqa: E402

from mlmesh.localstack.triton import (  # noqa: E402
    GPU_ARTIFACTS,
    GPU_REPOSITORY,
    SOURCE_REPOSITORY,
    assemble_repository,
)


def _config(path: Path) -> object:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def test_cpu_repository_contract() -> None:
    emb = _config(SOURCE_REPOSITORY / "minilm_embedding" / "config.pbtxt")
    assert emb.backend == "python" and emb.max_batch_size in (32, 64)  # type: ignore[attr-defined]
    assert emb.input[0].name == "TEXT"  # type: ignore[attr-defined]
    assert emb.input[0].data_type == model_config_pb2.TYPE_STRING  # type: ignore[attr-defined]
    assert list(emb.output[0].dims) == [384]  # type: ignore[attr-defined]
    # batched, but a request-path call never waits for company
    assert emb.HasField("dynamic_batching")  # type: ignore[attr-defined]
    assert emb.version_policy.HasField("all")  # fp32 and INT8 both loaded  # type: ignore[attr-defined]
    assert emb.dynamic_batching.max_queue_delay_microseconds == 0  # type: ignore[attr-defined]
    risk = _config(SOURCE_REPOSITORY / "risk_scorer" / "config.pbtxt")
    assert risk.input[0].name == "FEATURES" and risk.output[0].name == "SCORE"  # type: ignore[attr-defined]
    assert risk.version_policy.HasField("all")  # type: ignore[attr-defined]
    assert risk.HasField("dynamic_batching")  # type: ignore[attr-defined]
    assert risk.dynamic_batching.max_queue_delay_microseconds == 0  # type: ignore[attr-defined]


def test_gpu_repository_uses_tensorrt_fp16() -> None:
    onnx_cfg = _config(GPU_REPOSITORY / "minilm_onnx" / "config.pbtxt")
    acc = onnx_cfg.optimization.execution_accelerators.gpu_execution_accelerator[0]  # type: ignore[attr-defined]
    assert acc.name == "tensorrt" and acc.parameters["precision_mode"] == "FP16"
    ens = _config(GPU_REPOSITORY / "minilm_embedding" / "config.pbtxt")
    assert ens.platform == "ensemble"  # type: ignore[attr-defined]
    assert ens.output[0].name == "EMBEDDING"  # type: ignore[attr-defined]


def test_assemble_places_artifacts_and_keeps_published_versions(tmp_path: Path) -> None:
    models = tmp_path / "models" / "minilm"
    models.mkdir(parents=True)
    (models / "model.onnx").write_bytes(b"onnx")
    (models / "model_int8.onnx").write_bytes(b"int8")
    (models / "tokenizer.json").write_text("{}")
    dest = tmp_path / "repo"
    published = dest / "risk_scorer" / "3"
    published.mkdir(parents=True)
    (published / "model.onnx").write_bytes(b"v3")
    assemble_repository(dest, tmp_path / "models")
    assert (dest / "minilm_embedding" / "1" / "model.onnx").read_bytes() == b"onnx"
    assert (dest / "minilm_embedding" / "2" / "model.onnx").read_bytes() == b"int8"
    for version in ("1", "2"):
        assert (dest / "minilm_embedding" / version / "model.py").exists()
        assert (dest / "minilm_embedding" / version / "tokenizer.json").exists()
    assert (published / "model.onnx").read_bytes() == b"v3"
    assert (published / "model.py").read_text().startswith('"""Generic Triton')

    gpu = assemble_repository(tmp_path / "gpu", tmp_path / "models", GPU_REPOSITORY, GPU_ARTIFACTS)
    assert (gpu / "minilm_onnx" / "1" / "model.onnx").exists()
    assert (gpu / "minilm_embedding" / "1").is_dir()  # ensembles need a version dir
    assert not (gpu / "minilm_embedding" / "1" / "model.onnx").exists()


def test_assemble_without_built_model_says_make_models(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="make models"):
        assemble_repository(tmp_path / "repo", tmp_path / "nothing")

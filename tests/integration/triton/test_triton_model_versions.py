"""New risk_scorer versions go live at runtime, next to the ones already loaded,
without restarting the server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlmesh.testing.triton import TritonServer


def _train(path: Path, c: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c).fit(x, y)
    path.write_bytes(to_onnx(model, x[:1], options={"zipmap": False}).SerializeToString())
    return np.asarray(model.predict_proba(x[:8])[:, 1], dtype=np.float32)


def _score(url: str, version: str, x: np.ndarray) -> np.ndarray:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url)
    try:
        inp = grpcclient.InferInput("FEATURES", list(x.shape), "FP32")
        inp.set_data_from_numpy(x)
        out = client.infer("risk_scorer", [inp], model_version=version, client_timeout=30)
        return np.asarray(out.as_numpy("SCORE"))
    finally:
        client.close()


def test_versions_published_at_runtime_serve_side_by_side(
        triton_server: TritonServer, tmp_path: Path) -> None:
    pytest.importorskip("skl2onnx")
    comp = triton_server.component
    pid = comp.status().pid
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    want1 = _train(tmp_path / "v1.onnx", 1.0, x, y)
    want2 = _train(tmp_path / "v2.onnx", 0.001, x, y)
    assert np.abs(want1 - want2).max() > 0.05  # two genuinely different models

    comp.publish_onnx_version("risk_scorer", 1, tmp_path / "v1.onnx")
    comp.publish_onnx_version("risk_scorer", 2, tmp_path / "v2.onnx")

    assert comp.model_ready("risk_scorer", "1") and comp.model_ready("risk_scorer", "2")
    got1 = _score(triton_server.grpc_url, "1", x[:8])
    got2 = _score(triton_server.grpc_url, "2", x[:8])
    assert got1.shape == got2.shape == (8, 1)
    assert np.abs(got1[:, 0] - want1).max() < 1e-5
    assert np.abs(got2[:, 0] - want2).max() < 1e-5
    assert comp.status().pid == pid  # no restart

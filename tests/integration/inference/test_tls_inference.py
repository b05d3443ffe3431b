"""Inference serves mutual TLS when configured (#28), and `mlmesh predict`
reaches it with the client certificate it is given (MLMESH_CLIENT_TLS_*);
plaintext is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import grpc
import pytest

from inference.app import build
from mlmesh.devtls import ensure_dev_tls
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from mlmesh.tls import open_channel


def test_predict_over_mutual_tls_from_the_cli(inference_env: Any, tmp_path: Any) -> None:
    server, client = ensure_dev_tls(tmp_path)
    svc = build(inference_env.settings(tls_cert=server.cert, tls_key=server.key,
                                       tls_client_ca=server.client_ca)).start()
    try:
        address = f"localhost:{svc.port}"
        with open_channel(address, client) as channel:
            resp = pb_grpc.InferenceServiceStub(channel).Predict(
                pb.PredictRequest(user_id="tls-u1"), timeout=10)
        assert resp.model_name == "risk_scorer"
        with open_channel(address, None) as channel, pytest.raises(grpc.RpcError) as plain:
            pb_grpc.InferenceServiceStub(channel).Predict(pb.PredictRequest(user_id="u"),
                                                          timeout=5)
        assert plain.value.code() == grpc.StatusCode.UNAVAILABLE
        env = {**os.environ, "MLMESH_CLIENT_TLS_CA": str(client.ca),
               "MLMESH_CLIENT_TLS_CERT": str(client.cert),
               "MLMESH_CLIENT_TLS_KEY": str(client.key)}
        proc = subprocess.run([sys.executable, "-m", "mlmesh.cli.main", "predict", "--user",
                               "tls-u1", "--addr", address, "--json"], env=env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["model_name"] == "risk_scorer"
    finally:
        svc.stop(0)

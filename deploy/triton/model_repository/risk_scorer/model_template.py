"""Generic Triton python-backend scorer: runs ``model.onnx`` from its own version
dir with ONNX Runtime. Copied as ``<version>/model.py`` next to each version's
``model.onnx`` (tooling/mlmesh/localstack/triton.py: ``publish_onnx_version``).

Contract (deploy/triton/README.md):
  in   FEATURES fp32 [batch, N]   (N fixed per version; the ONNX model's first input)
  out  SCORE    fp32 [batch, 1]
The ONNX output used for SCORE, in order of preference: the output named by the
``score_output`` config parameter; ``probabilities`` (sklearn classifiers via
skl2onnx with ``zipmap=False``): its last column, the positive class; else the
first float output, which must be [batch] or [batch, 1].
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        here = Path(args["model_repository"]) / args["model_version"]
        self.version = args["model_version"]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(here / "model.onnx"), opts,
                                            providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        outputs = {o.name: o for o in self.session.get_outputs()}
        wanted = config.get("parameters", {}).get("score_output", {}).get("string_value", "")
        if wanted:
            self.output_name = wanted
        elif "probabilities" in outputs:
            self.output_name = "probabilities"
        else:
            floats = [o.name for o in outputs.values() if o.type == "tensor(float)"]
            if not floats:
                raise ValueError(f"model.onnx v{self.version} has no float output")
            self.output_name = floats[0]
        pb_utils.Logger.log_info(
            f"risk_scorer v{self.version}: {self.input_name} -> {self.output_name}")

    def _score(self, features: np.ndarray) -> np.ndarray:
        raw = self.session.run([self.output_name], {self.input_name: features})[0]
        raw = np.asarray(raw, dtype=np.float32)
        if raw.ndim == 2 and raw.shape[1] > 1:
            raw = raw[:, -1]
        return raw.reshape(-1, 1)

    def execute(self, requests: list) -> list:
        arrays: list[np.ndarray] = []
        for request in requests:
            feats = pb_utils.get_input_tensor_by_name(request, "FEATURES").as_numpy()
            arrays.append(np.asarray(feats, dtype=np.float32))
        responses = []
        widths = {a.shape[1] for a in arrays}
        scores: np.ndarray | None = None
        if len(widths) == 1:  # one ORT call for the whole dynamic batch
            try:
                scores = self._score(np.concatenate(arrays, axis=0))
            except Exception:
                scores = None
        if scores is not None:
            offset = 0
            for a in arrays:
                part = scores[offset:offset + len(a)]
                offset += len(a)
                responses.append(pb_utils.InferenceResponse(
                    output_tensors=[pb_utils.Tensor("SCORE", part)]))
            return responses
        for a in arrays:
            try:
                out = [pb_utils.Tensor("SCORE", self._score(a))]
                responses.append(pb_utils.InferenceResponse(output_tensors=out))
            except Exception as exc:
                responses.append(pb_utils.InferenceResponse(
                    error=pb_utils.TritonError(f"risk_scorer v{self.version}: {exc}")))
        return responses

    def finalize(self) -> None:
        self.session = None

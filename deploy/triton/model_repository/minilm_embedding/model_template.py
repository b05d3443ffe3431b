"""Triton python-backend model: raw text in, all-MiniLM-L6-v2 embeddings out.

Self-contained on purpose (only numpy, onnxruntime, tokenizers) so the same file
runs in the local tritonserver from nvidia-pytriton and in an NGC Triton image.

Files, looked up in this order:
  model.onnx      $MLMESH_MINILM_ONNX, else next to this file (the launcher puts
                  the `make models` output there)
  tokenizer.json  $MLMESH_MINILM_TOKENIZER, else next to this file

All requests of one dynamic batch are tokenized together, sorted by length and
run in chunks of ``ort_batch`` texts, so padding stays short.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils
from tokenizers import Tokenizer


def _param(config: dict, key: str, default: str) -> str:
    value = config.get("parameters", {}).get(key, {}).get("string_value", "")
    return value or default


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        here = Path(args["model_repository"]) / args["model_version"]
        onnx_path = os.environ.get("MLMESH_MINILM_ONNX") or str(here / "model.onnx")
        tok_path = os.environ.get("MLMESH_MINILM_TOKENIZER") or str(here / "tokenizer.json")
        self.max_len = int(_param(config, "max_seq_length", "256"))
        self.ort_batch = int(_param(config, "ort_batch", "32"))
        threads = int(_param(config, "intra_op_threads", "0"))

        self.tok = Tokenizer.from_file(tok_path)
        self.tok.enable_truncation(max_length=self.max_len)
        self.tok.no_padding()

        opts = ort.SessionOptions()
        if threads > 0:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                     if p in ort.get_available_providers()]
        if args.get("model_instance_kind") != "GPU":
            providers = ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(onnx_path, opts, providers=providers)
        self.dim = int(config["output"][0]["dims"][0])
        pb_utils.Logger.log_info(
            f"minilm_embedding: {onnx_path} providers={self.session.get_providers()}")

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encs = self.tok.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
        for start in range(0, len(order), self.ort_batch):
            idx = order[start:start + self.ort_batch]
            seq = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), seq), dtype=np.int64)
            mask = np.zeros((len(idx), seq), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            vecs = self.session.run(["sentence_embedding"],
                                    {"input_ids": ids, "attention_mask": mask})[0]
            out[idx] = vecs
        return out

    def execute(self, requests: list) -> list:
        texts: list[str] = []
        counts: list[int] = []
        errors: list[str | None] = []
        for request in requests:
            try:
                raw = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
                batch = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in raw]
                errors.append(None)
            except Exception as exc:
                batch = []
                errors.append(f"bad TEXT input: {exc}")
            texts.extend(batch)
            counts.append(len(batch))
        vectors = self._embed(texts)
        responses = []
        offset = 0
        for n, err in zip(counts, errors, strict=True):
            if err is not None:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(err)))
                continue
            tensor = pb_utils.Tensor("EMBEDDING", vectors[offset:offset + n])
            responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
            offset += n
        return responses

    def finalize(self) -> None:
        self.session = None

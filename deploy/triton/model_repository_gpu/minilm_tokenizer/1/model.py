"""Triton python-backend tokenizer for the GPU ensemble: TEXT -> input_ids,
attention_mask (int64, each request padded to its own longest text, truncation
at ``max_seq_length``). Needs only numpy + tokenizers (both in the NGC image's
python after `pip install tokenizers`, or carried in a conda-pack env)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils
from tokenizers import Tokenizer


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        config = json.loads(args["model_config"])
        here = Path(args["model_repository"]) / args["model_version"]
        params = config.get("parameters", {})
        max_len = int(params.get("max_seq_length", {}).get("string_value", "256") or 256)
        self.tok = Tokenizer.from_file(str(here / "tokenizer.json"))
        self.tok.enable_truncation(max_length=max_len)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")

    def execute(self, requests: list) -> list:
        responses = []
        for request in requests:
            raw = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
            texts = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in raw]
            encs = self.tok.encode_batch(texts)
            ids = np.array([e.ids for e in encs], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
            responses.append(pb_utils.InferenceResponse(output_tensors=[
                pb_utils.Tensor("input_ids", ids), pb_utils.Tensor("attention_mask", mask)]))
        return responses

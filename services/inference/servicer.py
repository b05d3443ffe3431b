"""Predict and Search: features + the user's own chunks + the routed model version.

Predict, in order: validate -> per-user rate limit -> route (policy) -> in
parallel {Feast online read, query embedding on Triton + Milvus search filtered
to the user} -> exact cache (request + model version + feature version) ->
score on Triton -> answer -> PredictionMade (not awaited). A shadow version, if
set, is scored off the request path and logged with route="shadow".

Degraded paths (answered, flagged): features missing -> documented defaults
(``features_defaulted:<n>``); Feast failing -> all defaults
(``features_unavailable``); Milvus down -> no chunks (``retrieval_unavailable``);
the canary failing -> the primary answers (``canary_failed``). Triton down ->
UNAVAILABLE. Every downstream call gets the caller's remaining deadline.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
import numpy as np

from inference.caches import ExactCache, SemanticCache
from inference.contract import DEFAULTS, FEATURE_NAMES, SCORER_MODEL
from inference.emitter import PredictionEmitter
from inference.features import FeastOnlineReader, FeatureVector
from inference.metrics import Instruments
from inference.retrieval import Chunk, MilvusRetriever, RetrievalUnavailable
from inference.router import Router
from inference.settings import Settings
from inference.triton import TritonFailed, TritonGateway, TritonUnavailable
from mlmesh.events.v1 import prediction_made_pb2
from mlmesh.grpcx.errors import (
    DeadlineExceeded,
    DomainError,
    InvalidArgument,
    ResourceExhausted,
    Unavailable,
)
from mlmesh.inference.v1 import inference_service_pb2 as pb
from mlmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from mlmesh.ratelimit import open_limiter

log = logging.getLogger(__name__)
MAX_USER_ID = 64  # the doc_chunks user_id field is VARCHAR(64)
MAX_CHUNK_TEXT = 500


@dataclass
class Deps:
    features: FeastOnlineReader
    triton: TritonGateway
    retriever: MilvusRetriever
    emitter: PredictionEmitter | None = None


@dataclass
class Budget:
    deadline: float

    @classmethod
    def of(cls, context: grpc.ServicerContext, default_s: float) -> Budget:
        remaining = context.time_remaining()
        if remaining is None or remaining > 3600:
            remaining = default_s
        if remaining <= 0:
            raise DeadlineExceeded("deadline already expired")
        return cls(time.monotonic() + remaining)

    def left(self, stage: str) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0.001:
            raise DeadlineExceeded(f"deadline exceeded before {stage}")
        return left


@dataclass
class Timer:
    stages: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.stages[stage] = (now - since) * 1000
        return now


def _check_user(user_id: str) -> None:
    if not user_id:
        raise InvalidArgument("user_id is required")
    if len(user_id) > MAX_USER_ID or not user_id.isprintable():
        raise InvalidArgument(f"user_id must be printable and at most {MAX_USER_ID} chars")


class InferenceServicer(pb_grpc.InferenceServiceServicer):
    def __init__(self, settings: Settings, deps: Deps, router: Router,
                 instruments: Instruments, executor: ThreadPoolExecutor) -> None:
        self.s = settings
        self.deps = deps
        self.router = router
        self.m = instruments
        self.pool = executor
        self.user_limiter = open_limiter(settings.user_rate, settings.user_burst,
                                         settings.rate_limit_storage.get_secret_value(),
                                         "mlmesh:inference-user")
        self.cache: ExactCache[pb.PredictResponse] = ExactCache(
            settings.cache_size, settings.cache_ttl_s, on_lookup=instruments.cache_hook("exact"))
        self.semantic: SemanticCache[list[Chunk]] = SemanticCache(
            settings.semantic_cache_size, settings.semantic_cache_ttl_s,
            settings.semantic_threshold, on_lookup=instruments.cache_hook("semantic"))

    # -- shared steps ----------------------------------------------------
    def _admit(self, user_id: str, k: int, text: str, text_field: str) -> int:
        _check_user(user_id)
        if len(text) > self.s.max_text_chars:
            raise InvalidArgument(f"{text_field} longer than {self.s.max_text_chars} chars")
        if k < 0 or k > self.s.max_k:
            raise InvalidArgument(f"k must be within 0..{self.s.max_k}")
        decision = self.user_limiter.take(user_id)
        if not decision.allowed:
            self.m.rejected.add(1, {"reason": "user_rate"})
            raise ResourceExhausted(f"rate limit for user {user_id!r} exceeded",
                                    retry_after_s=decision.retry_after_s)
        return k or self.s.default_k

    def _embed(self, text: str, budget: Budget) -> np.ndarray:
        try:
            return self.deps.triton.embed(text, budget.left("embedding"))
        except TritonUnavailable as exc:
            raise Unavailable(f"embedding model unavailable on Triton: {exc}") from exc
        except TritonFailed as exc:
            raise Unavailable(f"embedding failed: {exc}") from exc

    def _read_features(self, user_id: str) -> tuple[FeatureVector, list[str]]:
        try:
            fv = self.deps.features.read(user_id)
        except Exception as exc:  # Feast failing degrades to defaults
            log.warning("feature read failed; using defaults", extra={"error": str(exc)[:200]})
            return FeatureVector(dict(DEFAULTS), dict.fromkeys(FEATURE_NAMES, -1.0),
                                 FEATURE_NAMES), ["features_unavailable"]
        reasons = [f"features_defaulted:{len(fv.defaulted)}"] if fv.defaulted else []
        return fv, reasons

    def _retrieve(self, text: str, user_id: str, k: int, budget: Budget
                  ) -> tuple[list[Chunk], dict[str, float]]:
        stages: dict[str, float] = {}
        t = time.perf_counter()
        vec = self._embed(text, budget)
        stages["embed"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        chunks = self.deps.retriever.search(vec, user_id, k, budget.left("retrieval"))
        stages["retrieve"] = (time.perf_counter() - t) * 1000
        return chunks, stages

    def _score(self, version: str, fv: FeatureVector, budget: Budget) -> float:
        try:
            return float(self.deps.triton.score(version, [fv.ordered()],
                                                budget.left("scoring"))[0])
        except TritonUnavailable as exc:
            raise Unavailable(f"scoring model {SCORER_MODEL} v{version} unavailable on "
                              f"Triton: {exc}") from exc
        except TritonFailed as exc:
            raise Unavailable(f"scoring failed: {exc}") from exc

    # -- Predict ---------------------------------------------------------
    def Predict(self, request: pb.PredictRequest,  # gRPC method name
                context: grpc.ServicerContext) -> pb.PredictResponse:
        start, cpu_start = time.perf_counter(), time.thread_time()
        k = self._admit(request.user_id, request.k, request.text, "text")
        budget = Budget.of(context, self.s.default_timeout_s)
        request_id = request.request_id or uuid.uuid4().hex
        policy = self.router.current()
        version, route = policy.route(request.user_id)
        if not version:
            raise Unavailable(f"no version of {SCORER_MODEL} is routed (empty policy and "
                              "no version loaded on Triton)")
        try:
            resp = self._predict(request, k, budget, version, route, start)
        except DomainError as exc:
            self._emit_error(request, request_id, version, route, exc, start, cpu_start)
            self.m.requests.add(1, {"method": "Predict", "code": exc.code.name})
            raise
        resp.request_id = request_id
        self.m.requests.add(1, {"method": "Predict", "code": "OK", "route": resp.route})
        self.m.latency_ms.record((time.perf_counter() - start) * 1000, {"method": "Predict"})
        if resp.degraded:
            self.m.degraded.add(1, {"method": "Predict"})
        self._emit(request, resp, start, cpu_start)
        if policy.shadow and policy.shadow != resp.model_version and not resp.cache_hit:
            self.pool.submit(self._shadow, request, request_id, policy.shadow, budget)
        return resp

    def _predict(self, request: pb.PredictRequest, k: int, budget: Budget, version: str,
                 route: str, start: float) -> pb.PredictResponse:
        timer = Timer()
        retrieval: Future[tuple[list[Chunk], dict[str, float]]] | None = None
        if request.text:
            retrieval = self.pool.submit(self._retrieve, request.text, request.user_id, k,
                                         budget)
        t = time.perf_counter()
        fv, reasons = self._read_features(request.user_id)
        t = timer.add("features", t)
        key = (request.user_id, request.text, k, version, fv.version)
        cached = self.cache.get(key) if not fv.defaulted else None
        if cached is not None:
            if retrieval is not None:
                retrieval.cancel()
            resp = pb.PredictResponse()
            resp.CopyFrom(cached)
            resp.cache_hit = True
            del resp.latency[:]
            resp.latency.add(stage="total", ms=(time.perf_counter() - start) * 1000)
            return resp
        chunks: list[Chunk] = []
        if retrieval is not None:
            try:
                chunks, stages = retrieval.result(timeout=budget.left("retrieval"))
                timer.stages.update(stages)
            except RetrievalUnavailable as exc:
                log.warning("retrieval unavailable; answering without",
                            extra={"error": str(exc)[:200]})
                reasons.append("retrieval_unavailable")
            except TimeoutError as exc:
                raise DeadlineExceeded("deadline exceeded during retrieval") from exc
        t = time.perf_counter()
        try:
            score = self._score(version, fv, budget)
        except Unavailable:
            if route != "canary":
                raise
            primary = self.router.current().primary
            score, version, route = self._score(primary, fv, budget), primary, "primary"
            reasons.append("canary_failed")
        timer.add("score", t)
        timer.stages["total"] = (time.perf_counter() - start) * 1000
        resp = pb.PredictResponse(
            score=score, model_name=SCORER_MODEL, model_version=version, route=route,
            degraded=bool(reasons), degraded_reasons=reasons,
            features=[pb.FeatureValue(name=n, value=fv.values[n], age_ms=fv.ages_ms[n],
                                      defaulted=fv.ages_ms[n] < 0) for n in FEATURE_NAMES],
            chunks=[pb.RetrievedChunk(chunk_id=c.chunk_id, doc_id=c.doc_id,
                                      similarity=c.similarity, text=c.text[:MAX_CHUNK_TEXT])
                    for c in chunks],
            latency=[pb.StageLatency(stage=s, ms=ms) for s, ms in timer.stages.items()])
        for stage, ms in timer.stages.items():
            self.m.stage_ms.record(ms, {"stage": stage})
        if not reasons:
            self.cache.put(key, resp)
        return resp

    def _shadow(self, request: pb.PredictRequest, request_id: str, version: str,
                budget: Budget) -> None:
        start, cpu_start = time.perf_counter(), time.thread_time()
        try:
            fv, reasons = self._read_features(request.user_id)
            t = time.perf_counter()
            score = self._score(version, fv, Budget(max(budget.deadline,
                                                        time.monotonic() + 1.0)))
            score_ms = (time.perf_counter() - t) * 1000
        except DomainError as exc:
            self._emit_error(request, request_id, version, "shadow", exc, start, cpu_start)
            return
        resp = pb.PredictResponse(
            request_id=request_id, score=score, model_name=SCORER_MODEL, model_version=version,
            route="shadow", degraded=bool(reasons), degraded_reasons=reasons,
            features=[pb.FeatureValue(name=n, value=fv.values[n], age_ms=fv.ages_ms[n])
                      for n in FEATURE_NAMES],
            # the scoring stage: what rollout gates compare against the primary's
            latency=[pb.StageLatency(stage="score", ms=score_ms)])
        self._emit(request, resp, start, cpu_start)

    # -- PredictionMade --------------------------------------------------
    def _emit(self, request: pb.PredictRequest, resp: pb.PredictResponse, start: float,
              cpu_start: float) -> None:
        """``cpu_start``: ``time.thread_time()`` when the call began on this thread
        (the retrieval's pool thread is not counted)."""
        if self.deps.emitter is None:
            return
        ages = [f.age_ms for f in resp.features if f.age_ms >= 0]
        self.deps.emitter.emit(prediction_made_pb2.PredictionMade(
            request_id=resp.request_id, user_id=request.user_id, model_name=resp.model_name,
            model_version=resp.model_version, score=resp.score,
            features={f.name: f.value for f in resp.features},
            feature_age_ms=max(ages) if ages else -1.0,
            retrieved_chunk_ids=[c.chunk_id for c in resp.chunks],
            latency_ms=(time.perf_counter() - start) * 1000,
            stage_latency_ms={s.stage: s.ms for s in resp.latency},
            degraded=resp.degraded, degraded_reasons=list(resp.degraded_reasons),
            route=resp.route, cache_hit=resp.cache_hit,
            cpu_ms=(time.thread_time() - cpu_start) * 1000))

    def _emit_error(self, request: pb.PredictRequest, request_id: str, version: str,
                    route: str, exc: DomainError, start: float, cpu_start: float) -> None:
        if self.deps.emitter is None:
            return
        self.deps.emitter.emit(prediction_made_pb2.PredictionMade(
            request_id=request_id, user_id=request.user_id, model_name=SCORER_MODEL,
            model_version=version, route=route, error=exc.code.name,
            latency_ms=(time.perf_counter() - start) * 1000,
            cpu_ms=(time.thread_time() - cpu_start) * 1000))

    # -- Search ----------------------------------------------------------
    def Search(self, request: pb.SearchRequest,  # gRPC method name
               context: grpc.ServicerContext) -> pb.SearchResponse:
        start = time.perf_counter()
        if not request.query.strip():
            raise InvalidArgument("query is required")
        k = self._admit(request.user_id, request.k, request.query, "query")
        budget = Budget.of(context, self.s.default_timeout_s)
        timer = Timer()
        t = time.perf_counter()
        vec = self._embed(request.query, budget)
        t = timer.add("embed", t)
        scope = (request.user_id, k, request.source, request.created_after_ms,
                 self.s.embedding_model_version)
        hit = self.semantic.get(scope, vec)
        if hit is not None:
            chunks, cache_hit = hit[0], True
        else:
            try:
                chunks = self.deps.retriever.search(
                    vec, request.user_id, k, budget.left("retrieval"), source=request.source,
                    created_after_ms=request.created_after_ms)
            except RetrievalUnavailable as exc:
                self.m.requests.add(1, {"method": "Search", "code": "UNAVAILABLE"})
                raise Unavailable(f"vector store unavailable: {exc}") from exc
            self.semantic.put(scope, vec, chunks)
            cache_hit = False
        timer.add("retrieve", t)
        timer.stages["total"] = (time.perf_counter() - start) * 1000
        self.m.requests.add(1, {"method": "Search", "code": "OK"})
        self.m.latency_ms.record(timer.stages["total"], {"method": "Search"})
        return pb.SearchResponse(
            chunks=[pb.RetrievedChunk(chunk_id=c.chunk_id, doc_id=c.doc_id,
                                      similarity=c.similarity, text=c.text[:MAX_CHUNK_TEXT])
                    for c in chunks],
            model_version=self.s.embedding_model_version, cache_hit=cache_hit,
            latency=[pb.StageLatency(stage=s, ms=ms) for s, ms in timer.stages.items()])

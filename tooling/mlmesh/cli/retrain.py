"""``mlmesh retrain --watch``: the retrainer process. Each drift episode on the
alerts topic (inference.delivery.retrain) trains one candidate on the mesh's
data (labels topic + the offline tile deltas), registers it in MLflow, publishes
and loads it on Triton, and starts its gated rollout at the shadow step;
promotion past shadow follows the gates and ``--require-approval``.

    mlmesh retrain --watch [--require-approval] [--hold 30] [--triton-http URL]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mlmesh.common import ports


def make_retrain(args: argparse.Namespace) -> Any:
    """The retrain action: train -> register -> publish + load -> gated rollout."""
    from inference.control import open_policy_source
    from inference.delivery.controller import Plan, roll_out
    from inference.delivery.gates import GateConfig
    from inference.features import mesh_feature_store, open_feature_store
    from inference.settings import Settings
    from inference.training import pipeline
    from inference.training.dataset import labels_from_topic
    from inference.training.tracking import Registry

    settings = Settings()

    def retrain(reason: str) -> Any:
        store = mesh_feature_store(settings.feast_repo, settings.state_dir,
                                   settings.feast_online, settings.redis_url) or \
            open_feature_store(settings.feast_repo, settings.state_dir, settings.feast_online,
                               settings.redis_url)
        labels = labels_from_topic(settings.kafka_bootstrap, args.labels_topic)
        registry = Registry(settings.mlflow_uri)
        source = open_policy_source(settings)
        try:
            policy = source.load()
            report = pipeline.run(store, labels, settings.repository_path(),
                                  labels_source=f"topic {args.labels_topic} ({reason})",
                                  triton_http=args.triton_http, registry=registry,
                                  champion=policy.primary if policy else "")
            version = report.card["version"]
            plan = Plan(hold_s=args.hold, max_hold_s=max(args.max_hold, args.hold),
                        require_approval=args.require_approval,
                        gates=GateConfig(min_requests=args.min_requests))
            return roll_out(settings, source, version, plan, registry)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    return retrain


def cmd_retrain(args: argparse.Namespace) -> int:
    from inference.delivery.retrain import DriftRetrainer
    from inference.settings import Settings
    from mlmesh.common.lifecycle import StopSignal

    if not args.watch:
        sys.stderr.write("mlmesh retrain: --watch runs the retrainer (see --help)\n")
        return 2
    settings = Settings()
    watcher = DriftRetrainer(settings.kafka_bootstrap, settings.alerts_topic,
                             make_retrain(args), extra=settings.kafka_extra(),
                             stop=StopSignal().install())
    watcher.run()
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("retrain", help="the retrainer: a drift episode -> train, register, "
                                       "gated rollout from shadow")
    p.add_argument("--watch", action="store_true", help="consume alerts until stopped")
    p.add_argument("--labels-topic", default="labels")
    p.add_argument("--triton-http", default=f"http://127.0.0.1:{ports.TRITON_HTTP}",
                   help="Triton's HTTP endpoint: load the new version")
    p.add_argument("--require-approval", action="store_true",
                   help="wait for `mlmesh rollout approve` before 100%%")
    p.add_argument("--hold", type=float, default=30.0)
    p.add_argument("--max-hold", type=float, default=120.0)
    p.add_argument("--min-requests", type=int, default=50)
    p.set_defaults(func=cmd_retrain)

"""``mlmesh train``: train the risk_scorer from Feast's offline store and publish
it as a new version in the Triton model repository (logic in
services/inference/training/).

    mlmesh train --labels labels.parquet            # labels file (user_id, label_time, value)
    mlmesh train --labels-topic labels              # labels from Kafka
    mlmesh train --workload 400                     # self-contained: generated workload,
                                                    # reference offline features, local repo
Each run is logged to MLflow (``--registry``, default $MLMESH_MLFLOW_URI) and
registered as a new version of risk_scorer; the Triton repository gets the same
version number. The current primary (from the rollout log, else the newest
published version) is evaluated on the same holdout as the champion.
Options: --feast-repo, --repository, --triton-http (reload after publishing),
--no-registry (publish without MLflow), --dry-run (metrics only), --json.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from pathlib import Path


def cmd_train(args: argparse.Namespace) -> int:
    from inference.training import pipeline
    from inference.training.dataset import labels_from_parquet, labels_from_topic
    from mlmesh.localstack.paths import default_state_dir

    state = default_state_dir()
    if args.workload:
        from mlmesh.workload.feast_repo import workload_training_data

        store, labels = workload_training_data(state / "inference" / "train-repo",
                                               users=args.workload, events=args.workload * 100,
                                               seed=args.seed)
        source = f"synthetic workload (users={args.workload}, seed={args.seed}): not mesh data"
    else:
        from inference.features import mesh_feature_store, open_feature_store
        from mlmesh.client_settings import ClientSettings

        client = ClientSettings()
        repo = args.feast_repo or client.feast_repo
        # the mesh's own store: its tile deltas, folded as serving folds them;
        # a Feast repo of yours: its feature service's views
        store = mesh_feature_store(repo, client.state_dir, client.feast_online,
                                   client.redis_url) or \
            open_feature_store(repo, client.state_dir, client.feast_online, client.redis_url)
        if args.labels:
            labels, source = labels_from_parquet(Path(args.labels)), str(args.labels)
        else:
            labels, source = labels_from_topic(client.kafka_bootstrap, args.labels_topic), \
                f"topic {args.labels_topic}"
    repository = None if args.dry_run else Path(
        args.repository or state / "triton" / "model_repository")
    try:
        registry = None
        if not (args.dry_run or args.no_registry):
            from inference.training.tracking import Registry
            from mlmesh.client_settings import ClientSettings

            registry = Registry(args.registry or ClientSettings().mlflow_uri)
        report = pipeline.run(store, labels, repository, labels_source=source,
                              triton_http=args.triton_http or "", registry=registry,
                              champion=_champion(repository))
    except (RuntimeError, ValueError) as exc:
        sys.stderr.write(f"train failed: {exc}\n")
        return 1
    if args.json:
        sys.stdout.write(json.dumps({"version_dir": str(report.version_dir or ""),
                                     "loaded": report.loaded, "run_id": report.run_id,
                                     "card": report.card},
                                    indent=2, default=str) + "\n")
        return 0
    m = report.card["metrics"]
    sys.stdout.write(
        f"trained on {report.card['data_window']['labels']} labels "
        f"({report.card['data_window']['label_time_min']} .. "
        f"{report.card['data_window']['label_time_max']})\n"
        f"  held-out AUC {m['auc']:.3f} vs trivial baseline {m['baseline_auc']:.3f} "
        f"(best single feature {m['best_single_feature']}: {m['best_single_feature_auc']:.3f})\n"
        f"  accuracy {m['accuracy']:.3f} vs {m['baseline_accuracy']:.3f}; "
        f"log loss {m['log_loss']:.4f} vs {m['baseline_log_loss']:.4f}\n"
        + (f"  champion v{report.card['champion']['version']} on the same holdout: AUC "
           f"{report.card['champion']['champion_auc']:.3f}\n" if "champion" in report.card else "")
        + (f"  published {report.version_dir}{' (loaded on Triton)' if report.loaded else ''}\n"
           if report.version_dir else "  dry run: nothing published\n")
        + (f"  MLflow run {report.run_id}, registered as risk_scorer version "
           f"{report.card.get('version', '')}\n" if report.run_id else ""))
    return 0


def _champion(repository: Path | None) -> str:
    """The version serving now: the rollout log's primary, else the newest published."""
    if repository is None:
        return ""
    from inference.settings import Settings
    from inference.training.registry import versions

    settings = Settings()
    host, _, port = settings.kafka_bootstrap.split(",")[0].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=1.0).close()
    except (OSError, ValueError):  # no Kafka: no rollout log to ask
        found = versions(repository)
        return str(found[-1]) if found else ""
    try:
        from inference.control import open_policy_source

        source = open_policy_source(settings, timeout=5.0)
        try:
            policy = source.load()
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()
        if policy is not None and policy.primary:
            return policy.primary
    except (TimeoutError, RuntimeError, OSError, ValueError):
        pass
    found = versions(repository)
    return str(found[-1]) if found else ""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("train", help="train + publish a new risk_scorer version")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--labels", help="labels parquet (user_id, label_time, value)")
    src.add_argument("--labels-topic", default="labels", help="labels topic (default)")
    src.add_argument("--workload", type=int, default=0,
                     help="train on a generated workload of N users (self-contained)")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--feast-repo", default=None,
                   help="Feast repository (default $MLMESH_FEAST_REPO or the local one)")
    p.add_argument("--repository", help="Triton model repository "
                   "(default <state>/triton/model_repository)")
    p.add_argument("--triton-http", default="", help="e.g. http://127.0.0.1:18000: reload")
    p.add_argument("--registry", default="",
                   help="MLflow tracking/registry URI (default $MLMESH_MLFLOW_URI)")
    p.add_argument("--no-registry", action="store_true",
                   help="publish to the repository without MLflow (no run, no version)")
    p.add_argument("--dry-run", action="store_true", help="report metrics, publish nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_train)

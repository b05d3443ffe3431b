"""A minimal exactly-once processor for crash tests: copies every record of
``--src`` to ``--dst`` through :class:`mlmesh.kafka.eos.TransactionalLoop`,
slowly enough (``--delay-ms`` per record) for a test to SIGKILL it mid-batch.

    python -m mlmesh.testing.eos_echo --bootstrap B --src in --dst out --group g
"""

from __future__ import annotations

import argparse
import logging
import time

from confluent_kafka import Message

from mlmesh.common.lifecycle import StopSignal
from mlmesh.common.logging import configure_logging
from mlmesh.kafka.config import consumer_config, producer_config
from mlmesh.kafka.eos import LoopStats, Output, TransactionalLoop

log = logging.getLogger("eos-echo")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--delay-ms", type=float, default=0.0)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--idle-exit-s", type=float, default=0.0,
                   help="exit after this long without records (0 = run until SIGTERM)")
    args = p.parse_args()
    configure_logging("eos-echo", "INFO")
    stop = StopSignal().install()
    last = [time.monotonic()]

    def transform(msg: Message) -> list[Output]:
        if args.delay_ms:
            time.sleep(args.delay_ms / 1000)
        last[0] = time.monotonic()
        return [Output(args.dst, msg.value() or b"", msg.key())]

    def on_batch(stats: LoopStats) -> None:
        last[0] = time.monotonic()
        log.info("batch committed", extra={"consumed": stats.consumed})

    loop = TransactionalLoop(
        consumer_config=consumer_config(args.bootstrap, args.group, "eos-echo"),
        producer_config=producer_config(args.bootstrap, "eos-echo",
                                        transactional_id=f"eos-echo-{args.group}"),
        topics=[args.src], transform=transform, service="eos-echo", stop=stop,
        batch_size=args.batch, on_batch=on_batch)
    if args.idle_exit_s:
        import threading

        def watchdog() -> None:
            while not stop.wait(0.5):
                if time.monotonic() - last[0] > args.idle_exit_s:
                    stop.set()

        threading.Thread(target=watchdog, daemon=True).start()
    loop.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Kafka helpers shared by every service: client configs, a producer that
checks every delivery report, the exactly-once consume-transform-produce loop,
the at-least-once + idempotent-write loop, dead letters and trace headers."""

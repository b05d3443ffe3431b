"""Fault injection and independent audits for the whole local mesh (issue #8).

``stackenv`` (a throw-away mesh on its own state dir and ports), ``procs``
(SIGKILL / SIGSTOP / SIGCONT / RSS of a component's process group), ``faults``
(a seeded, replayable schedule and its runner), ``load`` (the workload through
ingest with resends, replays of old slices, flush marks, Predict probes),
``drain`` (wait until every consumer group caught up), ``topics`` (read a
topic whole), ``reference`` (served features as of a time, recomputed in plain Python
from the raw events), ``stores`` (what Feast and Milvus hold),
``features_audit`` (tiles vs the reference), ``audit`` (the comparison; also
``python -m mlmesh.chaos.audit``), ``corpus`` + ``fuzz`` (bad input at every
door), ``run`` (one chaos run end to end; ``python -m mlmesh.chaos.run``) and
``results`` (bench/results JSON).
"""

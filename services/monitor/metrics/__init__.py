"""Pure computations of the monitor (no Kafka, no faust): sketches, PSI, AUC,
cost, lag, alert rules and the aggregate records the faust tables hold."""

# Features area (owner: features helper): the PyFlink job's connector jar,
# tests and benchmark. `make setup` runs setup-flink via SETUP_STEPS.
FLINK_KAFKA_CONNECTOR := org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2
FLINK_JARS_DIR := .mlmesh/jars/flink
FLINK_KAFKA_JAR := $(FLINK_JARS_DIR)/flink-sql-connector-kafka-5.0.0-2.2.jar
FEATURES_PYTEST ?= .venv/bin/python -m pytest
# The job's JVM decode/encode functions (services/features/jvm), rebuilt when
# their sources or the protos change.
FEATURES_FUNCTIONS_DIR := services/features/jvm
FEATURES_FUNCTIONS_JAR := $(FLINK_JARS_DIR)/mlmesh-features-functions.jar
FEATURES_FUNCTIONS_SRC := $(FEATURES_FUNCTIONS_DIR)/pom.xml $(shell find $(FEATURES_FUNCTIONS_DIR)/src protos/mlmesh/events -type f 2>/dev/null)

.PHONY: setup-flink test-features test-features-slow bench-features bench-features-floor \
        bench-features-fresh bench-features-state

SETUP_STEPS += setup-flink
SETUP_LABEL_setup-flink := Flink connector + job functions (Maven)

setup-flink: $(FLINK_KAFKA_JAR) $(FEATURES_FUNCTIONS_JAR) ## Flink Kafka connector (Maven Central) + the job's JVM functions

$(FLINK_KAFKA_JAR):
	mkdir -p $(FLINK_JARS_DIR)
	mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
	  -Dartifact=$(FLINK_KAFKA_CONNECTOR) -DoutputDirectory=$(FLINK_JARS_DIR) \
	  -Dmdep.overWriteIfNewer=true
	test -s $@

$(FEATURES_FUNCTIONS_JAR): $(FEATURES_FUNCTIONS_SRC)
	@command -v mvn >/dev/null || { echo "features: maven is required (apt-get install maven)" >&2; exit 1; }
	mkdir -p $(FLINK_JARS_DIR)
	mvn -q -B -f $(FEATURES_FUNCTIONS_DIR)/pom.xml package
	cp $(FEATURES_FUNCTIONS_DIR)/target/mlmesh-features-functions.jar $@

test-features: setup-flink ## features unit + integration tests (not slow)
	$(FEATURES_PYTEST) -m "not slow" tests/unit/features tests/integration/features

test-features-slow: setup-flink ## features crash/restart suite
	$(FEATURES_PYTEST) -m slow tests/integration/features

bench-features: setup-flink ## features benchmark -> bench/results/features.json
	.venv/bin/python -m bench.features

bench-features-fresh: setup-flink ## event -> served p50/p99 (SQLite, Redis) at half the tiles job's rate -> bench/results/features_fresh.json
	.venv/bin/python -m bench.features_fresh

bench-features-state: setup-flink ## 30 min at a steady rate: job memory, RocksDB and online bytes -> bench/results/features_state.json
	.venv/bin/python -m bench.features_state

bench-features-floor: setup-flink ## the job's floor: bounded jobs doing a growing part of its work -> bench/results/features_floor.json
	.venv/bin/python -m bench.features_floor

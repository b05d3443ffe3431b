# Features area (owner: features helper): the PyFlink job's connector jar,
# tests and benchmark. `make setup` runs setup-flink via SETUP_STEPS.
FLINK_KAFKA_CONNECTOR := org.apache.flink:flink-sql-connector-kafka:5.0.0-2.2
FLINK_JARS_DIR := .mlmesh/jars/flink
FLINK_KAFKA_JAR := $(FLINK_JARS_DIR)/flink-sql-connector-kafka-5.0.0-2.2.jar
FEATURES_PYTEST ?= .venv/bin/python -m pytest

.PHONY: setup-flink test-features test-features-slow bench-features

SETUP_STEPS += setup-flink

setup-flink: $(FLINK_KAFKA_JAR) ## fetch the Flink Kafka connector (fat jar) from Maven Central

$(FLINK_KAFKA_JAR):
	mkdir -p $(FLINK_JARS_DIR)
	mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
	  -Dartifact=$(FLINK_KAFKA_CONNECTOR) -DoutputDirectory=$(FLINK_JARS_DIR) \
	  -Dmdep.overWriteIfNewer=true
	test -s $@

test-features: setup-flink ## features unit + integration tests (not slow)
	$(FEATURES_PYTEST) -m "not slow" tests/unit/features tests/integration/features

test-features-slow: setup-flink ## features crash/restart suite
	$(FEATURES_PYTEST) -m slow tests/integration/features

bench-features: setup-flink ## features benchmark -> bench/results/features.json
	.venv/bin/python -m bench.features

# Apache Kafka 4.1 (KRaft) for the local stack (owner: kafka helper).
# `make setup-kafka` fetches the broker's runtime jars from Maven Central into
# .mlmesh/jars/kafka; idempotent: redone only when the pom is newer than the stamp.
# tooling/mlmesh/localstack/kafka.py:ensure_kafka_jars() uses the same dir and stamp.
KAFKA_POM := deploy/local/kafka/pom.xml
KAFKA_JARS_ROOT := $(or $(MLMESH_JARS_DIR),.mlmesh/jars)
KAFKA_JARS := $(KAFKA_JARS_ROOT)/kafka
KAFKA_PERF_JARS := $(KAFKA_JARS_ROOT)/kafka-perf
KAFKA_PY ?= .venv/bin/python
MVN ?= mvn
MVN_FLAGS ?= -q -B
KAFKA_TESTS := tests/integration/kafka tests/unit/kafka

.PHONY: setup-kafka kafka-perf-jars kafka-jars-clean test-kafka

SETUP_STEPS += setup-kafka
SETUP_LABEL_setup-kafka := Kafka broker jars (Maven Central)

setup-kafka: $(KAFKA_JARS)/.stamp ## fetch the Kafka broker jars (idempotent)

kafka-perf-jars: $(KAFKA_PERF_JARS)/.stamp ## + kafka-tools (ProducerPerformance, EndToEndLatency)

# $(1): output dir, $(2): extra maven flags
define kafka_fetch
	@command -v java >/dev/null || { echo "kafka: java 17+ is required (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
	@command -v $(MVN) >/dev/null || { echo "kafka: maven is required (apt-get install maven)" >&2; exit 1; }
	rm -rf $(1).tmp
	$(MVN) $(MVN_FLAGS) $(2) -f $(KAFKA_POM) dependency:copy-dependencies \
	  -DincludeScope=runtime -DoutputDirectory=$(abspath $(1).tmp)
	rm -rf $(1) && mv $(1).tmp $(1)
	touch $(1)/.stamp
endef

$(KAFKA_JARS)/.stamp: $(KAFKA_POM)
	$(call kafka_fetch,$(KAFKA_JARS),)

$(KAFKA_PERF_JARS)/.stamp: $(KAFKA_POM)
	$(call kafka_fetch,$(KAFKA_PERF_JARS),-Pperf)

kafka-jars-clean:
	rm -rf $(KAFKA_JARS) $(KAFKA_PERF_JARS)

# The broker launcher, topics.yaml, crash-restart and transactions on a real broker.
test-kafka: setup-kafka
	PYTHONPATH=lib:gen/python:services $(KAFKA_PY) -m pytest -q $(KAFKA_TESTS)

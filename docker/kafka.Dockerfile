# syntax=docker/dockerfile:1
# mlmesh/kafka: Apache Kafka 4.1 (KRaft) from the Maven Central jars on a Debian
# JRE, for machines that cannot pull apache/kafka. Configured like apache/kafka
# (KAFKA_* environment variables, see docker/kafka/entrypoint.sh):
#   docker build -f docker/kafka.Dockerfile -t mlmesh/kafka:dev .
# Bases are build arguments (`make images` swaps in Debian-built equivalents
# where no registry answers).
ARG MAVEN_BASE=maven:3.9.11-eclipse-temurin-17
ARG DEBIAN_BASE=debian:12.12-slim

# ---- the broker's runtime jars, as `make setup-kafka` fetches them
FROM ${MAVEN_BASE} AS jars
LABEL io.mlmesh.build="1"
WORKDIR /src
COPY deploy/local/kafka/pom.xml pom.xml
RUN mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory=/jars

# ---- runtime: a JRE, the jars, non-root
FROM ${DEBIAN_BASE}
LABEL io.mlmesh.build="1"
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 1000 appuser \
    && useradd --system --uid 1000 --gid appuser --home-dir /tmp --shell /usr/sbin/nologin appuser \
    && mkdir -p /var/lib/kafka/data && chown appuser:appuser /var/lib/kafka/data
COPY --from=jars /jars/ /opt/kafka/libs/
COPY deploy/local/kafka/log4j2.xml /opt/kafka/config/log4j2.xml
COPY docker/kafka/entrypoint.sh /opt/kafka/entrypoint.sh
USER 1000:1000
VOLUME /var/lib/kafka/data
EXPOSE 9092 9093
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=6 \
    CMD ["bash", "-c", "echo > /dev/tcp/127.0.0.1/9092"]
ENTRYPOINT ["/opt/kafka/entrypoint.sh"]

# syntax=docker/dockerfile:1
# mlmesh/redis: Debian's redis-server, for machines that cannot pull the official
# redis image (Feast's online store in the compose mesh). Same use as redis:7:
#   docker run mlmesh/redis:dev redis-server --appendonly yes
ARG DEBIAN_BASE=debian:12.12-slim
FROM ${DEBIAN_BASE}
LABEL io.mlmesh.build="1"
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data
COPY docker/redis/entrypoint.sh /usr/local/bin/redis-entrypoint.sh
WORKDIR /data
USER redis
VOLUME /data
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=3s --retries=12 CMD ["redis-cli", "ping"]
ENTRYPOINT ["/usr/local/bin/redis-entrypoint.sh"]
CMD ["redis-server"]

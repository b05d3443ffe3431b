# syntax=docker/dockerfile:1
# mlmesh/milvus: the Milvus server of milvus-lite (PyPI) as a container, for
# machines that cannot pull milvusdb/milvus: one process, data in one file
# under /var/lib/milvus, gRPC on :19530 (the same API pymilvus speaks to Milvus
# standalone). Limits of milvus-lite 2.4: indexes FLAT, IVF_FLAT, AUTOINDEX.
ARG PYTHON_BASE=python:3.11.14-slim-bookworm
ARG DEBIAN_BASE=debian:12.12-slim

FROM ${PYTHON_BASE} AS wheel
LABEL io.mlmesh.build="1"
ARG MILVUS_LITE=milvus-lite==2.4.12
# (a venv's pip: Debian's python3 has none of its own)
RUN python -m venv /tmp/venv \
    && /tmp/venv/bin/pip install --no-cache-dir --no-deps --target /opt/wheel "${MILVUS_LITE}"

FROM ${DEBIAN_BASE}
LABEL io.mlmesh.build="1"
RUN groupadd --system --gid 10001 milvus \
    && useradd --system --uid 10001 --gid milvus --home-dir /tmp --shell /usr/sbin/nologin milvus \
    && mkdir -p /var/lib/milvus && chown milvus:milvus /var/lib/milvus
COPY --from=wheel /opt/wheel/milvus_lite/lib/ /opt/milvus-lite/lib/
COPY docker/milvus/entrypoint.sh /opt/milvus-lite/entrypoint.sh
ENV LD_LIBRARY_PATH=/opt/milvus-lite/lib \
    LOG_LEVEL=ERROR
WORKDIR /var/lib/milvus
USER 10001:10001
VOLUME /var/lib/milvus
EXPOSE 19530
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=12 \
    CMD ["bash", "-c", "echo > /dev/tcp/127.0.0.1/19530"]
ENTRYPOINT ["/opt/milvus-lite/entrypoint.sh"]

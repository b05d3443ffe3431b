# syntax=docker/dockerfile:1
# mlmesh/mlflow: the MLflow tracking server and model registry (mlflow from
# PyPI) with the PostgreSQL and S3 clients a cluster deployment uses. Default
# command: SQLite backend store and artifacts under /var/lib/mlflow (compose);
# the Kubernetes base passes a Postgres URI and an s3:// artifact root.
#   docker run -p 5000:5000 mlmesh/mlflow:dev
ARG PYTHON_BASE=python:3.11.14-slim-bookworm

FROM ${PYTHON_BASE} AS builder
LABEL io.mlmesh.build="1"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install "mlflow==3.17.2" "psycopg2-binary>=2.9" "boto3>=1.34"

FROM ${PYTHON_BASE}
LABEL io.mlmesh.build="1"
RUN groupadd --system --gid 10001 mlflow \
    && useradd --system --uid 10001 --gid mlflow --home-dir /tmp --shell /usr/sbin/nologin mlflow \
    && mkdir -p /var/lib/mlflow && chown mlflow:mlflow /var/lib/mlflow
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MLFLOW_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=true \
    GIT_PYTHON_REFRESH=quiet
WORKDIR /var/lib/mlflow
USER 10001:10001
VOLUME /var/lib/mlflow
EXPOSE 5000
HEALTHCHECK --interval=5s --timeout=3s --start-period=20s --retries=12 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:5000/health', timeout=2)"]
ENTRYPOINT ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000", "--workers", "1"]
CMD ["--backend-store-uri", "sqlite:////var/lib/mlflow/mlflow.db", \
     "--serve-artifacts", "--artifacts-destination", "/var/lib/mlflow/artifacts"]

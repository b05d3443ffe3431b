# syntax=docker/dockerfile:1
# mlmesh/triton (CPU): the real tritonserver 2.51 that the nvidia-pytriton wheel
# ships (PyPI), with its python backend; the mesh's model code runs ONNX Runtime.
# ~1/15 of the NGC image's size and no registry needed; on a GPU use
# docker/triton.Dockerfile (NGC, TensorRT/ORT-GPU), compose profile `gpu`.
#   docker build -f docker/triton-cpu.Dockerfile -t mlmesh/triton:dev .
#   docker run -v REPO:/models mlmesh/triton:dev --model-repository=/models
ARG PYTHON_BASE=python:3.11.14-slim-bookworm

FROM ${PYTHON_BASE} AS builder
LABEL io.mlmesh.build="1"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements/triton.in /tmp/triton.in
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# the python backend as --backend-directory wants it: library, utils and the
# stub built for this interpreter's version
RUN pip install -r /tmp/triton.in \
    && site=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
    && ver=$(python -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")') \
    && dist="$site/pytriton/tritonserver" \
    && mkdir -p /opt/tritonserver/backends/python \
    && cp "$dist/backends/python/libtriton_python.so" "$dist/backends/python/triton_python_backend_utils.py" \
          "$dist/python_backend_stubs/$ver/triton_python_backend_stub" /opt/tritonserver/backends/python/

FROM ${PYTHON_BASE}
LABEL io.mlmesh.build="1"
# the python-backend stub links against libpython: the official base has it,
# Debian's python3 keeps it in the libpython3.11 package
RUN python -c 'import sysconfig, os, sys; d = sysconfig.get_config_var("LIBDIR"); \
      sys.exit(0 if os.path.exists(os.path.join(d, sysconfig.get_config_var("LDLIBRARY"))) else 1)' \
    || { apt-get update && apt-get install -y --no-install-recommends libpython3.11 \
         && rm -rf /var/lib/apt/lists/*; } \
    && groupadd --system --gid 1000 triton \
    && useradd --system --uid 1000 --gid triton --home-dir /tmp --shell /usr/sbin/nologin triton
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /opt/tritonserver /opt/tritonserver
COPY docker/triton/entrypoint.sh /opt/tritonserver/entrypoint.sh
ENV PATH=/opt/venv/bin:$PATH \
    VIRTUAL_ENV=/opt/venv \
    PYTHONDONTWRITEBYTECODE=1 \
    OMP_NUM_THREADS=2 \
    HOME=/tmp
USER 1000:1000
EXPOSE 8000 8001 8002
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=5 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/v2/health/ready', timeout=3).status == 200 else 1)"]
ENTRYPOINT ["/opt/tritonserver/entrypoint.sh"]
CMD ["--model-repository=/models", "--model-control-mode=explicit", "--load-model=*", "--exit-on-error=false"]

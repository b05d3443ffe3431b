# syntax=docker/dockerfile:1
# NGC Triton + the Python packages the repository's python-backend models import
# (model.py of minilm_embedding, minilm_tokenizer: numpy, onnxruntime, tokenizers).
# The same image serves deploy/triton/model_repository (CPU, python backend) and
# deploy/triton/model_repository_gpu (onnxruntime backend + TensorRT FP16 on GPU).
#   docker build -f docker/triton.Dockerfile -t mlmesh/triton:dev .
FROM nvcr.io/nvidia/tritonserver:25.08-py3
LABEL io.mlmesh.build="1"
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Ubuntu's system Python is "externally managed": this image is that Python's only user.
RUN pip install --break-system-packages "numpy<2" "onnxruntime>=1.18" "tokenizers>=0.19"
COPY docker/healthcheck.py /opt/mlmesh/healthcheck.py
# triton-server is the NGC image's own non-root user (uid 1000).
USER 1000:1000
EXPOSE 8000 8001 8002
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=5 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8000/v2/models/minilm_embedding/ready"]

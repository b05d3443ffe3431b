#!/bin/sh
# mlmesh/triton (CPU) entrypoint: tritonserver 2.51 from the nvidia-pytriton wheel
# with its python backend; model code runs ONNX Runtime from /opt/venv.
# The python-backend stub loads this interpreter's libpython and the wheel's
# bundled libraries (field notes, "Triton and the embedding model").
set -eu
libdir=$(python -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')
purelib=$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
export LD_LIBRARY_PATH="$libdir:$purelib/nvidia_pytriton.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PYTRITON_HOME=/tmp/pytriton TMPDIR=/tmp
dist="$purelib/pytriton/tritonserver"
exec "$dist/bin/tritonserver" \
  --backend-directory=/opt/tritonserver/backends \
  --cache-directory="$dist/caches" \
  --allow-gpu-metrics=false \
  "$@"

#!/bin/sh
# mlmesh/milvus: milvus-lite's server binary on 0.0.0.0:19530, data in
# /var/lib/milvus/milvus.db. Arguments are ignored, so the compose service that
# runs milvusdb/milvus (`milvus run standalone`) runs this image unchanged.
set -eu
exec /opt/milvus-lite/lib/milvus /var/lib/milvus/milvus.db 0.0.0.0:19530 "${LOG_LEVEL:-ERROR}"

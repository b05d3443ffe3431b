"""Two client processes share one Milvus server: rows one writes, the other reads."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from pymilvus import DataType, MilvusClient

WRITER = textwrap.dedent("""
    import sys
    from pymilvus import MilvusClient
    client = MilvusClient(uri=sys.argv[1])
    rows = [{"id": 1000 + i, "user_id": "from-child", "vector": [float(i), 1.0, 0.0, 0.0]}
            for i in range(5)]
    client.insert("shared", rows)
    client.flush("shared")
    n = len(client.query("shared", filter='user_id == "from-parent"', output_fields=["id"]))
    print(n)
""")


def test_second_process_writes_and_reads(milvus_uri: str) -> None:
    client = MilvusClient(uri=milvus_uri)
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("user_id", DataType.VARCHAR, max_length=64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=4)
    index = client.prepare_index_params()
    index.add_index("vector", index_type="FLAT", metric_type="L2")
    try:
        client.create_collection("shared", schema=schema, index_params=index)
        client.insert("shared", [{"id": i, "user_id": "from-parent",
                                  "vector": [0.0, 0.0, float(i), 1.0]} for i in range(3)])
        client.flush("shared")
        child = subprocess.run([sys.executable, "-c", WRITER, milvus_uri], capture_output=True,
                               text=True, timeout=120)
        assert child.returncode == 0, child.stderr[-2000:]
        assert child.stdout.strip().splitlines()[-1] == "3"  # the child saw our 3 rows
        mine = client.query("shared", filter='user_id == "from-child"', output_fields=["id"])
    finally:
        client.drop_collection("shared")
        client.close()
    assert sorted(r["id"] for r in mine) == [1000, 1001, 1002, 1003, 1004]

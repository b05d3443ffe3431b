"""The ingest sender sends a rare kind while the stream runs, not at its end.

An in-process gRPC server records the order of the requests: with documents at
0.2% of a paced stream and requests of up to 250 per kind, the documents' request
must arrive before the stream's last events (before the linger it waited for
250 documents, i.e. for the end of the stream, which put the whole stream's
length into the demo's doc -> searchable).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlmesh.events.v1 import document_pb2, user_event_pb2
from mlmesh.ingest.v1 import ingest_service_pb2 as pb
from mlmesh.ingest.v1 import ingest_service_pb2_grpc as pb_grpc
from mlmesh.testing.grpcserver import serving
from mlmesh.workload.generator import Record
from mlmesh.workload.sender import send_via_ingest


class RecordingIngest(pb_grpc.IngestServiceServicer):
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def Publish(self, request: pb.PublishRequest, context: object) -> pb.PublishResponse:
        self.calls.append(("events", len(request.events)))
        return pb.PublishResponse(results=[
            pb.PublishResult(id=e.event_id, status=pb.PUBLISH_STATUS_ACCEPTED)
            for e in request.events])

    def PublishDocuments(self, request: pb.PublishDocumentsRequest, context: object
                         ) -> pb.PublishDocumentsResponse:
        self.calls.append(("documents", len(request.documents)))
        return pb.PublishDocumentsResponse(results=[
            pb.PublishResult(id=d.doc_id, status=pb.PUBLISH_STATUS_ACCEPTED)
            for d in request.documents])


@pytest.fixture
def ingest() -> Iterator[tuple[str, RecordingIngest]]:
    servicer = RecordingIngest()
    with serving(lambda server: pb_grpc.add_IngestServiceServicer_to_server(servicer,
                                                                              server)) as target:
        yield target, servicer


def stream(events: int, docs_at: set[int]) -> list[Record]:
    out: list[Record] = []
    for i in range(events):
        user = f"u{i % 7}"
        out.append(Record("user_event", user_event_pb2.UserEvent(event_id=f"e{i}", user_id=user),
                          user))
        if i in docs_at:
            out.append(Record("document", document_pb2.Document(doc_id=f"d{i}", user_id=user,
                                                               text="hello"), user))
    return out


def test_documents_go_out_while_events_still_stream(
        ingest: tuple[str, RecordingIngest]) -> None:
    address, servicer = ingest
    report = send_via_ingest(stream(1000, {100, 150}), address, rate=2000, batch=250,
                             linger_s=0.05)
    assert report.accepted == {"user_event": 1000, "document": 2}
    kinds = [kind for kind, _ in servicer.calls]
    assert "documents" in kinds
    # the documents went out before the last quarter of the events did
    events_after = sum(n for kind, n in servicer.calls[kinds.index("documents") + 1:]
                       if kind == "events")
    assert events_after >= 500, servicer.calls


def test_without_a_rate_full_requests_still_form(ingest: tuple[str, RecordingIngest]) -> None:
    """Unpaced, a kind that fills ``batch`` before the linger goes out full."""
    address, servicer = ingest
    report = send_via_ingest(stream(1000, set()), address, rate=0, batch=250, linger_s=30)
    assert report.accepted == {"user_event": 1000}
    assert servicer.calls == [("events", 250)] * 4

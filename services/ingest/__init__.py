"""mlmesh ingest: validates incoming events (gRPC and HTTP) and produces them."""

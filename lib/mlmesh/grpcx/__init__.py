"""gRPC server base: health, reflection, interceptors, graceful stop."""

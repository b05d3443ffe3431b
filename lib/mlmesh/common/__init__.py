"""Settings, logging, telemetry and process lifecycle shared by every service."""

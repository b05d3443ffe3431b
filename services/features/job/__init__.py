"""The PyFlink features job (runs in .venv-flink); see features_job.py."""

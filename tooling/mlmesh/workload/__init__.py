"""Synthetic but realistic workload with known ground truth."""

from mlmesh.workload.generator import Record, Workload, WorkloadConfig

__all__ = ["Record", "Workload", "WorkloadConfig"]

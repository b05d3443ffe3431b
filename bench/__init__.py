"""Benchmarks (`make bench`): JSON under bench/results/, ratios against baselines
measured in the same run."""

"""Reproducible benchmarks of the gateway (`make bench`); results go to docs/benchmarks.md."""

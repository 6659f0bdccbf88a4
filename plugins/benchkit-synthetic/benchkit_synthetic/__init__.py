"""Embedded synthetic benchmarks, generated deterministically in the real datasets' layouts."""

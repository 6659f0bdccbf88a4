"""Test plugin (loaded through BENCHKIT_PLUGINS): two tiny point-cloud datasets whose clouds say where they came
from (`benchkit.testing_traced.traced_datasets`)."""

from benchkit.testing_traced import traced_datasets, traced_origin

ORIGIN_OFFSET = {"a3-clouds-a": 1000.0, "a3-clouds-b": 2000.0}
register_datasets = traced_datasets(ORIGIN_OFFSET)


def origin(sample) -> str:
    return traced_origin(sample, ORIGIN_OFFSET)

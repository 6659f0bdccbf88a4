"""benchkit: a benchmark harness for 3D and RGB+3D industrial anomaly detection.

This module is the public API that plugins import; everything else is internal.
"""

__version__ = "0.1.0"

from benchkit.backbones import BACKBONE_KINDS, Backbone, BackboneSpec, Tokens, build_backbone, find_weights
from benchkit.datasets import MODALITIES, Dataset, DatasetSpec
from benchkit.detectors import Detector, DetectorSpec, Prediction
from benchkit.errors import BenchkitError, DataError, MissingWeightsError, SkipJob
from benchkit.executors import Executor, ExecutorSpec
from benchkit import feature_cache
from benchkit.feature_cache import cached_features
from benchkit.hookspecs import hookimpl
from benchkit.paths import cache_dir, weights_dir
from benchkit.sample import ANOMALOUS, NORMAL, Sample, SampleRef
from benchkit.seeding import rng
from benchkit.settings import Plan, Setting, SettingSpec

# Result-record helpers for executors that move records between machines; loaded on first use (pydantic).
_LAZY = {"Record": "benchkit.results", "RecordError": "benchkit.results", "parse_record": "benchkit.results",
         "write_json_atomic": "benchkit.results"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'benchkit' has no attribute {name!r}")


__all__ = [
    "ANOMALOUS",
    "BACKBONE_KINDS",
    "MODALITIES",
    "NORMAL",
    "Backbone",
    "BackboneSpec",
    "BenchkitError",
    "DataError",
    "Dataset",
    "DatasetSpec",
    "Detector",
    "DetectorSpec",
    "Executor",
    "ExecutorSpec",
    "MissingWeightsError",
    "Plan",
    "Prediction",
    "Record",
    "RecordError",
    "Sample",
    "SampleRef",
    "Setting",
    "SettingSpec",
    "SkipJob",
    "Tokens",
    "build_backbone",
    "cache_dir",
    "cached_features",
    "find_weights",
    "feature_cache",
    "hookimpl",
    "parse_record",
    "rng",
    "weights_dir",
    "write_json_atomic",
]

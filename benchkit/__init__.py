"""benchkit: a benchmark harness for 3D and RGB+3D industrial anomaly detection.

This module is the public API that plugins import; everything else is internal.
"""

__version__ = "0.1.0"

from benchkit.backbones import Backbone, BackboneSpec, Tokens, find_weights, weights_dir
from benchkit.datasets import MODALITIES, Dataset, DatasetSpec
from benchkit.detectors import Detector, DetectorSpec, Prediction
from benchkit.errors import BenchkitError, DataError, MissingWeightsError, SkipJob
from benchkit.executors import Executor, ExecutorSpec
from benchkit.hookspecs import hookimpl
from benchkit.sample import ANOMALOUS, NORMAL, Sample, SampleRef
from benchkit.settings import Plan, Setting, SettingSpec

__all__ = [
    "ANOMALOUS",
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
    "Sample",
    "SampleRef",
    "Setting",
    "SettingSpec",
    "SkipJob",
    "Tokens",
    "find_weights",
    "hookimpl",
    "weights_dir",
]

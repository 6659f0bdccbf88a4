"""benchkit: a benchmark harness for 3D and RGB+3D industrial anomaly detection.

This module is the public API that plugins import; everything else is internal.
"""

__version__ = "0.1.0"

from benchkit.hookspecs import hookimpl

# Every other public name is imported on first use (PEP 562), so that `benchkit --help` and `benchkit list` do not
# pay for numpy and pydantic before they need them: `from benchkit import DetectorSpec` works as usual.
_LAZY = {
    **dict.fromkeys(("BACKBONE_KINDS", "Backbone", "BackboneSpec", "Tokens", "build_backbone", "find_weights"),
                    "benchkit.backbones"),
    **dict.fromkeys(("MODALITIES", "Dataset", "DatasetSpec"), "benchkit.datasets"),
    **dict.fromkeys(("Detector", "DetectorSpec", "Prediction"), "benchkit.detectors"),
    **dict.fromkeys(("BenchkitError", "DataError", "MissingWeightsError", "SkipJob"), "benchkit.errors"),
    **dict.fromkeys(("Executor", "ExecutorSpec"), "benchkit.executors"),
    "cached_features": "benchkit.feature_cache",
    **dict.fromkeys(("cache_dir", "weights_dir"), "benchkit.paths"),
    **dict.fromkeys(("ANOMALOUS", "NORMAL", "Sample", "SampleRef"), "benchkit.sample"),
    "rng": "benchkit.seeding",
    **dict.fromkeys(("Plan", "Setting", "SettingSpec"), "benchkit.settings"),
    # result-record helpers for executors that move records between machines (pydantic)
    **dict.fromkeys(("Record", "RecordError", "parse_record", "write_json_atomic"), "benchkit.results"),
}
_MODULES = {"feature_cache": "benchkit.feature_cache"}  # public submodules reached as attributes


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    else:
        raise AttributeError(f"module 'benchkit' has no attribute {name!r}")
    globals()[name] = value  # later lookups are plain attribute reads
    return value


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

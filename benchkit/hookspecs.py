"""The hooks a benchkit plugin can implement: one per kind of thing it contributes.

Each hook receives a ``register`` callable; call it once per spec. Example plugin module::

    from benchkit import DetectorSpec, hookimpl

    @hookimpl
    def register_detectors(register):
        register(DetectorSpec(name="my-detector", version="1.0", description="...", factory=MyDetector,
                              consumes=frozenset({"points"})))

Expose the module under the ``benchkit`` entry-point group of your distribution::

    [project.entry-points.benchkit]
    my_detector = "my_package.plugin"
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("benchkit")
hookimpl = pluggy.HookimplMarker("benchkit")


@hookspec
def register_datasets(register):
    """Register `benchkit.DatasetSpec`s."""


@hookspec
def register_detectors(register):
    """Register `benchkit.DetectorSpec`s."""


@hookspec
def register_backbones(register):
    """Register `benchkit.BackboneSpec`s."""


@hookspec
def register_settings(register):
    """Register `benchkit.SettingSpec`s."""


@hookspec
def register_executors(register):
    """Register `benchkit.ExecutorSpec`s."""

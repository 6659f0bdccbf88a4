"""The evaluation-setting contract: how a dataset becomes jobs (who trains on what, who is tested on what).

A setting returns `Plan`s; each plan becomes one job and one result record. The harness enforces a plan: it hides
categories when ``hide_category`` is set, and hides labels and ground truth from every test sample.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchkit.datasets import Dataset, DatasetSpec
from benchkit.detectors import DetectorSpec
from benchkit.sample import SampleRef


@dataclass
class Plan:
    category: str  # the evaluated category, or "all" for a model evaluated on every category at once
    train: list[SampleRef]
    test: list[SampleRef]
    hide_category: bool = False  # strip categories from every sample the detector sees (train and test)
    config: dict[str, Any] = field(default_factory=dict)  # setting parameters recorded in the job config


class Setting(ABC):
    name: str = ""  # set from the spec, with its argument: "few-shot:5"

    @abstractmethod
    def plan(self, dataset: Dataset, *, seed: int, datasets: Mapping[str, Dataset]) -> list[Plan]:
        """Plans for one target dataset. ``datasets`` holds every available dataset (for cross-dataset settings)."""

    def sources(self) -> tuple[str, ...]:
        """Datasets this setting trains on besides the target (a cross-dataset source); the harness opens them and
        passes them in ``datasets``. Default: none."""
        return ()

    def applies_to(self, dataset: Dataset, datasets: Mapping[str, Dataset]) -> bool:
        """Whether this setting makes sense for this target dataset at all (a cross-dataset setting does not pair
        a dataset with itself). When False, no job and no record is made. Default: True."""
        return True

    def incompatibility(self, detector: DetectorSpec, dataset: DatasetSpec) -> str | None:
        """Why this detector cannot run on this dataset in this setting, or None when it can.

        The default checks what every setting needs: the detector supports the setting and gets its modalities.
        """
        base = self.name.split(":")[0]
        if detector.settings is not None and base not in detector.settings:
            return f"{detector.name} does not support the {base} setting (supports: {', '.join(sorted(detector.settings))})"
        if not detector.accepts_organized and "xyz" in dataset.modalities:
            return f"{detector.name} scores unorganized point clouds only; {dataset.name} holds organized scans"
        missing = missing_modalities(detector, dataset)
        if missing:
            return f"{detector.name} needs {', '.join(sorted(missing))}, which {dataset.name} does not provide"
        return None


def missing_modalities(detector: DetectorSpec, dataset: DatasetSpec) -> set[str]:
    provided = set(dataset.modalities)
    if "xyz" in provided:
        provided.add("points")  # an organized cloud can always be used as a point cloud
    return set(detector.consumes) - provided


@dataclass(frozen=True)
class SettingSpec:
    """What a plugin registers for a setting. ``factory(arg)`` gets the text after the colon ("5" in "few-shot:5")
    or None. ``default_args``: the arguments ``run --all`` uses (e.g. ("5",)); empty means the plain name.
    ``args_from_datasets``: ``run --all`` uses each available dataset's name as the argument (cross-dataset)."""

    name: str
    version: str
    description: str
    factory: Callable[[str | None], Setting]
    default_args: tuple[str, ...] = ()
    args_from_datasets: bool = False

    def build(self, name: str) -> Setting:
        """The setting for ``name`` (this spec's name, optionally with ``:ARG``), its ``name`` set to it."""
        _, _, arg = name.partition(":")
        setting = self.factory(arg or None)
        setting.name = name
        return setting

    def run_names(self, datasets: Sequence[str] = ()) -> list[str]:
        args = list(datasets) if self.args_from_datasets else self.default_args
        if self.args_from_datasets or self.default_args:
            return [f"{self.name}:{a}" for a in args]
        return [self.name]

"""Built-in evaluation settings (protocols of the field), registered like any plugin's.

- ``one-model-one-class``: a model per category, trained on that category's normal training samples.
- ``unified``: one model for all categories (class-aware: the detector sees category labels).
- ``unified-agnostic``: one model for all categories; categories are stripped from every sample it sees.
- ``few-shot:K``: a model per category trained on K normal samples drawn with the job seed.
- ``zero-shot-one-vs-rest``: the zero-shot 3D papers' protocol (PointAD, MVP-PCLIP): a model trained on ONE
  category and tested on every other category of the dataset, repeated for the dataset's published training
  categories (`DatasetSpec.zero_shot_train_categories`, e.g. MVTec 3D-AD: cookie, carrot, dowel), or for those
  named in ``zero-shot-one-vs-rest:CAT[,CAT...]``, or else for every category. One job per training category; its
  record's ``category`` is the training category and its metrics are per tested category plus their ``mean``. The
  papers' number is the mean of those means over the training categories.
- ``zero-shot-leave-one-out``: a model per category trained on every other category of the dataset, tested on it
  (benchkit's ``zero-shot-one-vs-rest`` before record schema 2).
- ``zero-shot-cross-dataset:SOURCE``: a model trained on one category of dataset SOURCE (each of its published
  training categories in turn, else each of its categories), tested on every category of the target dataset; the
  record layout is that of one-vs-rest. ``run --all`` pairs every two available datasets; a pair of an organized
  and an unorganized dataset (PointAD: MVTec 3D-AD -> Real3D-AD) runs only detectors that name this setting in
  their ``settings`` (they declare they handle both formats), the others are skipped with that reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from benchkit.datasets import Dataset, DatasetSpec
from benchkit.detectors import DetectorSpec
from benchkit.errors import BenchkitError, UsageError
from benchkit.hookspecs import hookimpl
from benchkit.plugins import get_registry
from benchkit.seeding import rng
from benchkit.settings import Plan, Setting, SettingSpec, missing_modalities

UNIFIED = "all"


class OneModelOneClass(Setting):
    def plan(self, dataset: Dataset, *, seed: int, datasets: Mapping[str, Dataset]) -> list[Plan]:
        return [Plan(c, dataset.index(c, "train"), dataset.index(c, "test")) for c in dataset.categories()]


class Unified(Setting):
    def __init__(self, hide_category: bool) -> None:
        self.hide_category = hide_category

    def plan(self, dataset: Dataset, *, seed: int, datasets: Mapping[str, Dataset]) -> list[Plan]:
        cats = dataset.categories()
        train = [r for c in cats for r in dataset.index(c, "train")]
        test = [r for c in cats for r in dataset.index(c, "test")]
        return [Plan(UNIFIED, train, test, hide_category=self.hide_category)]

    def incompatibility(self, detector: DetectorSpec, dataset: DatasetSpec) -> str | None:
        if self.hide_category and detector.needs_category:
            return f"{detector.name} needs category labels, which the class-agnostic unified setting withholds"
        return super().incompatibility(detector, dataset)


class FewShot(Setting):
    def __init__(self, k: int) -> None:
        self.k = k

    def applies_to(self, dataset: Dataset, datasets: Mapping[str, Dataset]) -> bool:
        """Not where no category has more than K training samples: there K-shot is the full-data setting
        (synthetic-pc and Real3D-AD have 4 training clouds per category), already run as one-model-one-class."""
        return any(len(dataset.index(c, "train")) > self.k for c in dataset.categories())

    def plan(self, dataset: Dataset, *, seed: int, datasets: Mapping[str, Dataset]) -> list[Plan]:
        plans = []
        for c in dataset.categories():
            train = dataset.index(c, "train")
            # One stream per (seed, category): a category's subset does not depend on which others exist.
            chosen = sorted(rng(seed, c).choice(len(train), size=min(self.k, len(train)), replace=False))
            plans.append(Plan(c, [train[i] for i in chosen], dataset.index(c, "test"), config={"k": self.k}))
        return plans


def zero_shot_train_categories(dataset: Dataset, requested: tuple[str, ...] = ()) -> list[str]:
    """The categories zero-shot models of ``dataset`` train on: those ``requested``, else the dataset's published
    ones present in this copy, else every category."""
    present = dataset.categories()
    if requested:
        unknown = [c for c in requested if c not in present]
        if unknown:
            raise UsageError(f"{dataset.name} has no category {', '.join(unknown)} to train a zero-shot model on; "
                             f"present: {', '.join(present)}")
        return list(requested)
    spec = get_registry().datasets.get(dataset.name)
    published = tuple(getattr(spec, "zero_shot_train_categories", ()) or ())
    return [c for c in published if c in present] if published else present


class ZeroShotOneVsRest(Setting):
    def __init__(self, train_categories: tuple[str, ...] = ()) -> None:
        self.train_categories = train_categories

    def applies_to(self, dataset: Dataset, datasets: Mapping[str, Dataset]) -> bool:
        return len(dataset.categories()) >= 2

    def plan(self, dataset: Dataset, *, seed: int, datasets: Mapping[str, Dataset]) -> list[Plan]:
        cats = dataset.categories()
        return [
            Plan(t, dataset.index(t, "train"), [r for c in cats if c != t for r in dataset.index(c, "test")],
                 config={"train_categories": [t], "test_categories": [c for c in cats if c != t]})
            for t in zero_shot_train_categories(dataset, self.train_categories)
        ]


class ZeroShotLeaveOneOut(Setting):
    def applies_to(self, dataset: Dataset, datasets: Mapping[str, Dataset]) -> bool:
        return len(dataset.categories()) >= 2

    def plan(self, dataset: Dataset, *, seed: int, datasets: Mapping[str, Dataset]) -> list[Plan]:
        cats = dataset.categories()
        return [
            Plan(c, [r for o in cats if o != c for r in dataset.index(o, "train")], dataset.index(c, "test"),
                 config={"train_categories": [o for o in cats if o != c]})
            for c in cats
        ]


class ZeroShotCrossDataset(Setting):
    def __init__(self, source: str) -> None:
        self.source = source

    def sources(self) -> tuple[str, ...]:
        return (self.source,)

    def applies_to(self, dataset: Dataset, datasets: Mapping[str, Dataset]) -> bool:
        return self.source != dataset.name

    def incompatibility(self, detector: DetectorSpec, dataset: DatasetSpec) -> str | None:
        """Besides the target's needs: the source must provide what the detector consumes, and a source of the
        other geometry format (PointAD's MVTec 3D-AD scans -> Real3D-AD clouds) is only for detectors that name
        this setting in their ``settings``: they declare they train on either format (rendering-based zero-shot
        methods do); the others are run on pairs of one format."""
        reason = super().incompatibility(detector, dataset)
        source = get_registry().datasets.get(self.source)
        if reason is not None or source is None:
            return reason
        missing = missing_modalities(detector, source)
        if missing:
            return (f"{detector.name} needs {', '.join(sorted(missing))}, which the source {source.name} does not "
                    f"provide")
        if ("xyz" in source.modalities) != ("xyz" in dataset.modalities) and (
                detector.settings is None or "zero-shot-cross-dataset" not in detector.settings):
            kinds = {True: "organized scans", False: "unorganized clouds"}
            return (f"{detector.name} would train on {source.name} ({kinds['xyz' in source.modalities]}) and be tested "
                    f"on {dataset.name} ({kinds['xyz' in dataset.modalities]}); only detectors that name "
                    f"zero-shot-cross-dataset in their settings declare they handle both formats")
        return None

    def plan(self, dataset: Dataset, *, seed: int, datasets: Mapping[str, Dataset]) -> list[Plan]:
        if self.source not in datasets:
            raise BenchkitError(f"zero-shot-cross-dataset: source dataset {self.source} is not available "
                                f"(see `benchkit datasets list`)")
        source = datasets[self.source]
        test = [r for c in dataset.categories() for r in dataset.index(c, "test")]
        return [Plan(t, source.index(t, "train"), test, config={"source": self.source, "train_categories": [t]})
                for t in zero_shot_train_categories(source)]


def _cross_dataset(arg: str | None) -> Setting:
    if not arg:
        raise UsageError("zero-shot-cross-dataset needs the source dataset, e.g. zero-shot-cross-dataset:mvtec3d")
    return ZeroShotCrossDataset(arg)


def _one_vs_rest(arg: str | None) -> Setting:
    names = tuple(c.strip() for c in (arg or "").split(",") if c.strip())
    if arg is not None and not names:
        raise UsageError(f"zero-shot-one-vs-rest takes training categories, e.g. zero-shot-one-vs-rest:cookie,carrot "
                         f"(got {arg!r})")
    return ZeroShotOneVsRest(names)


def _few_shot(arg: str | None) -> Setting:
    try:
        k = int(arg) if arg is not None else 5
        if k < 1:
            raise ValueError
    except ValueError:
        raise UsageError(f"few-shot needs a positive sample count, e.g. few-shot:5 (got {arg!r})") from None
    return FewShot(k)


def _no_arg(name: str, make):
    def factory(arg: str | None) -> Setting:
        if arg is not None:
            raise UsageError(f"setting {name} takes no argument (got {name}:{arg})")
        return make()

    return factory


@hookimpl
def register_settings(register):
    register(SettingSpec("one-model-one-class", "1", "A model per category, trained on its normal samples",
                         _no_arg("one-model-one-class", OneModelOneClass)))
    register(SettingSpec("unified", "1", "One model for all categories; category labels visible (class-aware)",
                         _no_arg("unified", lambda: Unified(hide_category=False))))
    register(SettingSpec("unified-agnostic", "1", "One model for all categories; categories withheld by the harness",
                         _no_arg("unified-agnostic", lambda: Unified(hide_category=True))))
    register(SettingSpec("few-shot", "1", "A model per category from K normal samples drawn with the seed (few-shot:K)",
                         _few_shot, default_args=("5",)))
    register(SettingSpec("zero-shot-one-vs-rest", "2",
                         "Papers' zero-shot protocol: train on ONE category, test on all others, per published "
                         "training category (zero-shot-one-vs-rest:CAT,... names them)", _one_vs_rest))
    register(SettingSpec("zero-shot-leave-one-out", "1",
                         "A model per category trained on every other category, tested on that one",
                         _no_arg("zero-shot-leave-one-out", ZeroShotLeaveOneOut)))
    register(SettingSpec("zero-shot-cross-dataset", "2",
                         "Train on one category of dataset SOURCE (each published training category), test on every "
                         "category of this one (zero-shot-cross-dataset:SOURCE)", _cross_dataset,
                         args_from_datasets=True))

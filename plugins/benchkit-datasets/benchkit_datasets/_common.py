"""What every on-disk dataset reader shares: option handling, category discovery, relative paths, the cache."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, ClassVar

from benchkit import DataError, Dataset

from benchkit_datasets.cache import cache_root

SPLITS = ("train", "validation", "test")


class FileDataset(Dataset):
    """A dataset read from a copy laid out as the original download.

    Options are declared in ``OPTIONS`` (name -> default); an unknown option is an error that lists the known ones.
    Subclasses (e.g. the embedded synthetic benchmarks) extend it: ``OPTIONS = {**Parent.OPTIONS, "seed": 0}``.
    ``config()`` returns every option with its resolved value, so the job record says exactly what was done; options
    that cannot change the data (``cache_dir``) stay out of it.
    """

    name: str = ""
    OPTIONS: ClassVar[dict[str, Any]] = {"cache_dir": None}
    NOT_IN_CONFIG: ClassVar[frozenset[str]] = frozenset({"cache_dir"})
    #: Sub-folders one of which marks a category folder (other top-level files and folders are ignored).
    CATEGORY_MARKERS: ClassVar[tuple[str, ...]] = ("train", "test")
    #: The categories of the full benchmark. When given, only folders of these names are categories (a copy missing
    #: a split still counts, so that its jobs fail naming the missing folder); others are reported by `notices`.
    CATEGORIES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, root: Path, **options: Any) -> None:
        unknown = sorted(set(options) - set(self.OPTIONS))
        if unknown:
            raise ValueError(
                f"dataset {self.name or type(self).__name__}: unknown option(s) {unknown}; known options: "
                f"{', '.join(sorted(self.OPTIONS))}"
            )
        super().__init__(root, **options)
        self.settings: dict[str, Any] = {**self.OPTIONS, **options}
        self._validate_options()

    def _validate_options(self) -> None:
        """Check option values; subclasses raise ValueError naming the option."""

    def config(self) -> dict[str, Any]:
        return {k: v for k, v in sorted(self.settings.items()) if k not in self.NOT_IN_CONFIG}

    # categories -------------------------------------------------------------------------------------------------
    def categories(self) -> list[str]:
        if not self.root.is_dir():
            return []
        if self.CATEGORIES:
            return sorted(d.name for d in self.root.iterdir() if d.is_dir() and d.name in self.CATEGORIES)
        return self._marked_folders()

    def _marked_folders(self) -> list[str]:
        return sorted(
            d.name
            for d in self.root.iterdir()
            if d.is_dir() and not d.name.startswith(".") and any((d / m).is_dir() for m in self.CATEGORY_MARKERS)
        )

    def _category_dir(self, category: str) -> Path:
        folder = self.root / category
        if not folder.is_dir():
            present = ", ".join(self.categories()) or "none"
            raise DataError(folder, f"category {category!r} is not in this copy (present: {present})",
                            "download it or choose a present category")
        return folder

    @staticmethod
    def _check_split(split: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")

    # paths --------------------------------------------------------------------------------------------------------
    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def _abs(self, rel: str) -> Path:
        return self.root / rel

    def _cache_folder(self) -> Path:
        return cache_root(self.settings.get("cache_dir")) / "datasets" / (self.name or type(self).__name__)

    # verification -------------------------------------------------------------------------------------------------
    def layout_problems(self, category: str) -> list[str]:
        """Every missing companion file of one category, as messages (subclasses add their own checks)."""
        return []

    def read_folders(self, category: str) -> Iterator[tuple[Path, tuple[str, ...]]]:
        """The folders the reader lists files in, each with the (case-sensitive) name patterns it reads there.
        Subclasses implement it; a file matching none of its folder's patterns is never read (see `notices`)."""
        return iter(())

    def notices(self) -> list[str]:
        if not self.root.is_dir():
            return []
        out = []
        if self.CATEGORIES:
            expected = ", ".join(self.CATEGORIES)
            out += [f"{self.root / name}: folder is not a category of {self.name} (expected: {expected}); not run"
                    for name in self._marked_folders() if name not in self.CATEGORIES]
        for category in self.categories():
            for folder, patterns in self.read_folders(category):
                if not folder.is_dir():
                    continue
                for path in sorted(folder.iterdir()):
                    if path.is_file() and not path.name.startswith(".") and \
                            not any(fnmatchcase(path.name, p) for p in patterns):
                        out.append(f"{path}: unexpected file name; {self.name} reads only {' / '.join(patterns)} "
                                   f"in this folder, so it is ignored (rename it if it belongs to the dataset)")
        return out

"""The metadata files this distribution ships (``meta/<dataset>.json``, package data): the one home of each dataset's
category list, counts, licence, citation and download locations. benchkit validates them (`benchkit datasets info`)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "meta"


def path(dataset: str) -> Path:
    return FOLDER / f"{dataset}.json"


@cache
def categories(dataset: str) -> tuple[str, ...]:
    """The full benchmark's categories, in the metadata's order."""
    return tuple(json.loads(path(dataset).read_text())["categories"])

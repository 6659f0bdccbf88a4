"""What a detector may see of a job's samples, prepared outside the detector's process.

A test sample's answers are its label, defect type and ground truth, and everything that reveals them: an id such as
``2_missing`` or ``crack/003``, metadata naming the ground-truth file, the order of the split (grouped by defect
folder), and even the coordinate precision (Real3D-AD-style readers take anomalous clouds from 6-decimal text and
normal ones from binary PCD). So the worker never gets test refs: the answer process (`benchkit.answers`) loads each
test sample, keeps only the inputs (points / organized xyz / rgb; the category only when the plan shows it), rounds
coordinates to the dataset's `coordinate_decimals`, and writes them to a private folder under an opaque id, in a
seeded shuffled order. The worker reads them back with `read_input`; the answer process maps its predictions back
with the returned order, which never leaves it. Ground truth never leaves it either.

Training samples are normal by construction, so the worker loads them itself (`visible_train`); when a plan hides
categories they also get opaque ids, no metadata and a seeded shuffled order, so nothing about a sample's category
reaches ``fit`` through the samples (the file paths the worker reads are in its memory: see README, "What the
harness cannot stop").
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchkit.sample import Sample, SampleRef
from benchkit.seeding import rng

_ARRAYS = ("points", "xyz", "rgb")


@dataclass(frozen=True)
class BlindInputs:
    """Where a job's test inputs are and the opaque ids in the order the detector gets them (picklable)."""

    folder: str
    ids: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.ids)


def round_coordinates(sample: Sample, decimals: int | None) -> Sample:
    """The sample with ``points`` / ``xyz`` rounded to ``decimals`` (float32 kept); unchanged when None."""
    if decimals is None:
        return sample
    out = {}
    for name in ("points", "xyz"):
        value = getattr(sample, name)
        if value is not None:
            out[name] = np.round(np.asarray(value, dtype=np.float64), decimals).astype(np.float32)
    if not out:
        return sample
    import dataclasses

    return dataclasses.replace(sample, valid=sample.valid, **out)


def visible(sample: Sample, sample_id: str, *, hide_category: bool, decimals: int | None) -> Sample:
    """Only the inputs: the given id, no label, defect, ground truth or metadata; no category when hidden."""
    sample = round_coordinates(sample, decimals)
    return Sample(id=sample_id, category=None if hide_category else sample.category, label=None,
                  points=sample.points, xyz=sample.xyz, valid=sample.valid, rgb=sample.rgb)


def presentation_order(n: int, seed: int, *keys: object) -> np.ndarray:
    """The seeded order in which n samples reach the detector (a permutation of range(n))."""
    return rng(seed, "presentation-order", *keys).permutation(n)


def _opaque_ids(n: int, seed: int, *keys: object) -> list[str]:
    """n distinct ids that say nothing about the samples (random hex from the job's seed)."""
    generator = rng(seed, "opaque-ids", *keys)
    ids: list[str] = []
    seen: set[str] = set()
    while len(ids) < n:
        token = generator.bytes(8).hex()
        if token not in seen:
            seen.add(token)
            ids.append(token)
    return ids


def write_test_inputs(dataset, refs: Sequence[SampleRef], *, seed: int, key: str, hide_category: bool,
                      parent: str | Path | None = None) -> tuple[BlindInputs, list[int]]:
    """Load every test sample (answers included, in this process), write its inputs under an opaque id in a new
    private folder, in presentation order. Returns the inputs and ``order``: the detector's k-th sample is
    ``refs[order[k]]``. ``key`` names the job (its config hash) so that orders differ between jobs."""
    order = [int(i) for i in presentation_order(len(refs), seed, key)]
    ids = _opaque_ids(len(refs), seed, key)
    folder = Path(tempfile.mkdtemp(prefix="benchkit-inputs-", dir=parent))
    decimals = getattr(dataset, "coordinate_decimals", None)
    try:
        for k, i in enumerate(order):
            sample = visible(dataset.load(refs[i]), ids[k], hide_category=hide_category, decimals=decimals)
            arrays = {name: getattr(sample, name) for name in _ARRAYS if getattr(sample, name) is not None}
            if sample.valid is not None:
                arrays["valid"] = sample.valid
            if sample.category is not None:
                arrays["category"] = np.array(sample.category)
            np.savez(folder / f"{ids[k]}.npz", **arrays)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return BlindInputs(str(folder), tuple(ids)), order


def read_input(inputs: BlindInputs, k: int) -> Sample:
    """The detector's k-th test sample."""
    sample_id = inputs.ids[k]
    with np.load(Path(inputs.folder) / f"{sample_id}.npz", allow_pickle=False) as data:
        arrays = {name: data[name] for name in (*_ARRAYS, "valid") if name in data.files}
        category = str(data["category"]) if "category" in data.files else None
    return Sample(id=sample_id, category=category, label=None, **arrays)


def in_plan_order(predictions, order: Sequence[int]):
    """Predictions made in presentation order, put back into the plan's order (``order[k]``: plan index of the
    k-th presented sample). Anything that is not one prediction per sample is returned unchanged for the scoring
    step to reject."""
    scores, maps = list(predictions.scores), list(predictions.maps)
    if len(scores) != len(order) or len(maps) != len(order):
        return predictions
    back_scores, back_maps = [None] * len(order), [None] * len(order)
    for k, i in enumerate(order):
        back_scores[i], back_maps[i] = scores[k], maps[k]
    return type(predictions)(scores=back_scores, maps=back_maps)


def remove_inputs(inputs: BlindInputs | None) -> None:
    if inputs is not None:
        shutil.rmtree(inputs.folder, ignore_errors=True)


class TrainingSamples(Sequence[Sample]):
    """The training samples ``fit`` gets: a plain sequence that loads on access (training sets of real datasets do
    not fit in memory at once). It exposes no refs and no dataset. With ``hide_category`` the samples come in a
    seeded shuffled order, with opaque ids, no category and no metadata."""

    def __init__(self, datasets: dict, refs: Sequence[SampleRef], *, hide_category: bool, seed: int,
                 key: str) -> None:
        refs = list(refs)
        order = presentation_order(len(refs), seed, key, "train") if hide_category else range(len(refs))
        ids = _opaque_ids(len(refs), seed, key, "train") if hide_category else [refs[i].id for i in order]
        entries = [(refs[i], ids[k]) for k, i in enumerate(order)]

        def load(k: int) -> Sample:
            ref, sample_id = entries[k]
            dataset = datasets[ref.dataset]
            sample = dataset.load(ref)
            shown = visible(sample, sample_id, hide_category=hide_category,
                            decimals=getattr(dataset, "coordinate_decimals", None))
            shown.label = sample.label  # normal by construction: not an answer
            return shown

        self._n = len(entries)
        self._load = load

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"training sample {i} out of range (0..{self._n - 1})")
        return self._load(i)

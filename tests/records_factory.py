"""Valid result records for the aggregate / leaderboard tests (imported by those test files)."""

from __future__ import annotations

from pathlib import Path

from benchkit.results import (BackboneUse, Counts, Efficiency, ErrorInfo, JobInfo, Provenance, Record, SampleScore, config_hash,
                              write_record)

CATS = ["a", "b", "c"]


def make_record(detector="det", category="a", seed=0, values=None, *, dataset="toy", setting="one-model-one-class",
                status="ok", weights="none", incomplete=False, error=None, throughput=10.0, samples=True,
                timestamp="2026-01-01T00:00:00", version="1", backbones=()):
    """One job. ``values``: {category: {metric: value}}; default: the job's category with an i_auroc.
    ``backbones``: (name, weights kind) pairs the job built."""
    if values is None:
        values = {category: {"i_auroc": 0.8}} if status == "ok" else {}
    cats = [c for c in values if c != "mean"] or ([category] if category != "all" else CATS)
    smp = []
    if samples and status == "ok":
        for c in cats:
            smp += samples_with_auroc(c, values[c]["i_auroc"]) if "i_auroc" in values[c] else []
    config = {"detector": {"name": detector, "version": version}, "dataset": {"name": dataset, "version": "1"},
              "setting": {"name": setting}, "category": category, "seed": seed}
    return Record(
        benchkit_version="0.1.0",
        job=JobInfo(detector=detector, detector_version=version, dataset=dataset, dataset_version="1", setting=setting,
                    category=category, seed=seed, config=config, config_hash=config_hash(config)),
        status=status,
        error=ErrorInfo(type="SkipJob" if status == "skipped" else "RuntimeError", message=error or "boom")
        if status != "ok" else None,
        weights=weights, incomplete=incomplete,
        backbones=[BackboneUse(name=n, version="1", kind="point-groups", weights=w,
                               sha256="ab" * 32 if w == "pretrained" else None) for n, w in backbones],
        counts={c: Counts(train=4, test_normal=N_PER_CLASS, test_anomalous=N_PER_CLASS) for c in cats},
        metrics=values if status == "ok" else {},
        efficiency=Efficiency(throughput_per_s=throughput, latency_ms_median=1000 / throughput, peak_rss_mb=512.0,
                              parameters=1_500_000, fit_seconds=2.5) if status == "ok" else Efficiency(),
        provenance=Provenance(python="3.12", platform="linux", cpu="x86", threads=2, device="cpu", executor="local",
                              packages={}, timestamp=timestamp),
        samples=smp,
    )


N_PER_CLASS = 10


def samples_with_auroc(category: str, auroc: float) -> list[SampleScore]:
    """Ten normal and ten anomalous scores whose AUROC is exactly ``auroc`` (a multiple of 1/200), so the record
    passes `benchkit.validation`'s recomputation. Normal scores are 0..9; an anomalous score c - 0.5 outscores
    c of them (ties count one half), so the AUROC is the sum of the c's over 100."""
    half_steps = round(auroc * 2 * N_PER_CLASS * N_PER_CLASS)
    assert abs(half_steps - auroc * 2 * N_PER_CLASS * N_PER_CLASS) < 1e-6, f"i_auroc {auroc} is not a multiple of 1/200"
    out = [SampleScore(id=f"{category}n{j}", category=category, label=0, score=float(j)) for j in range(N_PER_CLASS)]
    for i in range(N_PER_CLASS):
        c = min(2 * N_PER_CLASS, half_steps) / 2
        half_steps -= int(c * 2)
        out.append(SampleScore(id=f"{category}a{i}", category=category, label=1, score=c - 0.5))
    return out


def scenario() -> list[Record]:
    """Three detectors on dataset 'toy' (categories a, b, c) plus the awkward cases."""
    recs = []
    # 'good': complete, two seeds
    for seed, bump in ((0, 0.0), (1, 0.02)):
        for cat, v in zip(CATS, (0.90, 0.80, 0.70)):
            recs.append(make_record("good", cat, seed, {cat: {"i_auroc": v + bump, "p_auroc": 0.95}}))
    # 'unified': one record holding every category (and its own 'mean', which aggregation must ignore)
    recs.append(make_record("uni", "all", 0, {"a": {"i_auroc": 0.6}, "b": {"i_auroc": 0.7}, "c": {"i_auroc": 0.8},
                                              "mean": {"i_auroc": 0.123}}, setting="unified"))
    # 'partial': category c failed -> incomplete, no mean, no rank
    recs.append(make_record("partial", "a", 0, {"a": {"i_auroc": 0.99}}))
    recs.append(make_record("partial", "b", 0, {"b": {"i_auroc": 0.99}}))
    recs.append(make_record("partial", "c", 0, status="failed", error="CUDA out of memory"))
    # 'weightless': skipped everywhere (missing weights)
    for cat in CATS:
        recs.append(make_record("weightless", cat, 0, status="skipped", error="weights file /w/pointmae.pth not found"))
    # same detector with a random-init backbone: its own, marked row
    for cat, v in zip(CATS, (0.5, 0.5, 0.5)):
        recs.append(make_record("good", cat, 0, {cat: {"i_auroc": v}}, weights="random-init"))
    # a run on an incomplete copy of the dataset
    recs.append(make_record("copy", "all", 0, {"a": {"i_auroc": 0.95}, "b": {"i_auroc": 0.95}, "c": {"i_auroc": 0.95}},
                            incomplete=True))
    # hostile name
    for cat in CATS:
        recs.append(make_record("<script>alert(1)</script>", cat, 0, {cat: {"i_auroc": 0.65}}))
    return recs


def write_scenario(folder: Path, records: list[Record] | None = None) -> Path:
    for i, rec in enumerate(records or scenario()):
        write_record(rec, folder / rec.job.dataset / f"{i:03d}.json")
    return folder

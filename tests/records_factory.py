"""Valid result records for the aggregate / leaderboard tests (imported by those test files)."""

from __future__ import annotations

from pathlib import Path

from benchkit.results import Counts, Efficiency, ErrorInfo, JobInfo, Provenance, Record, SampleScore, write_record

CATS = ["a", "b", "c"]


def make_record(detector="det", category="a", seed=0, values=None, *, dataset="toy", setting="one-model-one-class",
                status="ok", weights="none", incomplete=False, error=None, throughput=10.0, samples=True,
                timestamp="2026-01-01T00:00:00"):
    """One job. ``values``: {category: {metric: value}}; default: the job's category with an i_auroc."""
    if values is None:
        values = {category: {"i_auroc": 0.8}} if status == "ok" else {}
    cats = [c for c in values] or ([category] if category != "all" else CATS)
    smp = []
    if samples and status == "ok":
        for c in cats:
            smp += [SampleScore(id=f"{c}{i}", category=c, label=i % 2, score=float(i % 2) + 0.3 * ((i * 7) % 5))
                    for i in range(12)]
    return Record(
        benchkit_version="0.1.0",
        job=JobInfo(detector=detector, detector_version="1", dataset=dataset, dataset_version="1", setting=setting,
                    category=category, seed=seed, config={"d": detector}, config_hash="h" + detector),
        status=status,
        error=ErrorInfo(type="SkipJob" if status == "skipped" else "RuntimeError", message=error or "boom")
        if status != "ok" else None,
        weights=weights, incomplete=incomplete,
        counts={c: Counts(train=4, test_normal=6, test_anomalous=6) for c in cats},
        metrics=values if status == "ok" else {},
        efficiency=Efficiency(throughput_per_s=throughput, latency_ms_median=1000 / throughput, peak_rss_mb=512.0,
                              parameters=1_500_000, fit_seconds=2.5) if status == "ok" else Efficiency(),
        provenance=Provenance(python="3.12", platform="linux", cpu="x86", threads=2, device="cpu", executor="local",
                              packages={}, timestamp=timestamp),
        samples=smp,
    )


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

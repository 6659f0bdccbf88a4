"""mafr-weightfree through the harness on embedded synthetic-rgbd: one model per class and few-shot:5."""

import json

import pytest


@pytest.mark.slow
def test_mafr_weightfree_scores_above_chance_on_synthetic_rgbd(benchkit_env, benchkit_cli):
    results = benchkit_env
    code = benchkit_cli("run", "--detector", "mafr-weightfree", "--dataset", "synthetic-rgbd", "--category", "cookie",
                        "--setting", "one-model-one-class", "--setting", "few-shot:5", "--results", results,
                        "--no-site", "--quiet")
    assert code == 0
    records = {r["job"]["setting"]: r for r in (json.loads(p.read_text()) for p in results.rglob("cookie__seed0.json"))}
    full, few = records["one-model-one-class"]["metrics"]["cookie"], records["few-shot:5"]["metrics"]["cookie"]
    # measured with mafr-weightfree 1.1 (20 epochs, seed 0): full I-AUROC 0.944, P-AUROC 0.936, AUPRO@0.3 0.842;
    # few-shot:5 0.833, 0.927, 0.810; chance is 0.5
    assert full["i_auroc"] > 0.7 and full["p_auroc"] > 0.85, full
    assert few["i_auroc"] > 0.65 and few["p_auroc"] > 0.85, few
    assert records["few-shot:5"]["counts"]["cookie"]["train"] == 5

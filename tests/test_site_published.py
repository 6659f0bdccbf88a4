"""The published results folder (leaderboard/records): every record there passes the submission checks, sits at
the path `benchkit run` gives it, and the site builds from the folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchkit.jobs import path_of_record
from benchkit.site import build_site
from benchkit.submission import check_submission

RECORDS = Path(__file__).resolve().parents[1] / "leaderboard" / "records"
PUBLISHED = sorted(RECORDS.rglob("*.json"))


@pytest.mark.parametrize("path", PUBLISHED, ids=[str(p.relative_to(RECORDS)) for p in PUBLISHED])
def test_published_record_is_fit_for_publication(path):
    check = check_submission(path)
    assert check.ok, "\n".join(map(str, check.problems))
    assert path == path_of_record(RECORDS, check.record)


def test_site_builds_from_the_published_folder(tmp_path):
    index = build_site(RECORDS, tmp_path / "site")
    html = index.read_text()
    assert "Benchmarks" in html and (index.parent / "style.css").is_file()
    assert len(list((index.parent / "benchmarks").glob("*.html"))) >= 1  # reported paper numbers at least

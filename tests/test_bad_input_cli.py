"""The command line under bad input (issue 11): named errors and exit codes instead of tracebacks, `validate` strict
by default, and strings from records printed with control characters escaped."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from records_factory import make_record  # noqa: E402

from benchkit.cli import main  # noqa: E402
from benchkit.results import write_record  # noqa: E402
from benchkit.terminal import escape_control  # noqa: E402


def test_escape_control_keeps_newlines_and_tabs():
    assert escape_control("a\x1b[31mb\r\x07\x9b\tc\nd") == "a\\x1b[31mb\\r\\x07\\x9b\tc\nd"


def test_validate_is_strict_by_default_and_one_bad_file_does_not_stop_the_rest(tmp_path, capsys):
    write_record(make_record("det", "a", 0), tmp_path / "ok.json")
    tampered = make_record("det", "a", 0).model_dump(mode="json")
    tampered["job"]["config_hash"] = "0" * 16
    (tmp_path / "tampered.json").write_text(json.dumps(tampered))
    (tmp_path / "deep.json").write_text("[" * 50_000 + "]" * 50_000)
    files = [str(tmp_path / n) for n in ("deep.json", "tampered.json", "ok.json")]
    assert main(["validate", *files]) == 1
    out, err = capsys.readouterr()
    assert f"{tmp_path / 'ok.json'}: ok" in out
    assert "JSON nested 50000 levels deep" in err and "job.config_hash: '0000000000000000' is not the hash" in err
    assert "1 of 3 file(s) valid" in err
    assert main(["validate", "--no-strict", files[1], files[2]]) == 0  # the schema alone accepts the tampering
    assert main(["validate", str(tmp_path)]) == 1  # a folder: every *.json in it
    assert "1 of 3 file(s) valid" in capsys.readouterr().err


def test_validate_names_a_missing_file_and_an_empty_folder(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.json")]) == 1
    assert "nope.json: invalid result record:\n  - cannot read the file (No such file or directory)" in \
        capsys.readouterr().err
    assert main(["validate", str(tmp_path)]) == 2
    assert "no *.json files in this folder" in capsys.readouterr().err


def test_folders_given_as_files_are_usage_errors(tmp_path, capsys):
    results = tmp_path / "res"
    write_record(make_record("det", "a", 0), results / "toy" / "a.json")
    a_file = tmp_path / "site.html"
    a_file.write_text("")
    assert main(["leaderboard", "build", "--results", str(results), "--out", str(a_file)]) == 2
    assert f"--out {a_file}: is a file; give a folder" in capsys.readouterr().err
    for argv in (["show", "--results", str(a_file)], ["leaderboard", "build", "--results", str(a_file)],
                 ["compare", "x", "y", "--dataset", "toy", "--setting", "s", "--results", str(a_file)]):
        assert main(argv) == 2
        assert f"--results {a_file}: is a file; give a folder" in capsys.readouterr().err


def test_strings_from_records_are_printed_escaped(tmp_path, capsys):
    results = tmp_path / "res"
    write_record(make_record("evil\x1b[2J\x1b]0;owned\x07", "a", 0), results / "toy" / "a.json")
    assert main(["show", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "evil\\x1b[2J\\x1b]0;owned\\x07" in out


def test_stray_json_in_results_is_skipped_with_a_warning_by_the_site(tmp_path, capsys):
    results = tmp_path / "res"
    write_record(make_record("det", "a", 0), results / "toy" / "a.json")
    (results / "toy" / "notes.json").write_text('{"todo": 1}')
    assert main(["leaderboard", "build", "--results", str(results)]) == 0
    assert "notes.json: not a result record; skipped" in capsys.readouterr().err


def test_escaping_stream_follows_its_raw_stream_and_never_closes_it():
    """A library that wrapped stdout (Ray's colorama) checks ``closed`` in its exit hook: it must see the raw
    stream's state, and closing (or collecting) the escaping stream must leave the raw stream open."""
    import io

    from benchkit.terminal import EscapingStream

    raw = io.StringIO()
    stream = EscapingStream(raw)
    stream.write("a\x1bb")
    stream.close()
    del stream
    assert not raw.closed and raw.getvalue() == "a\\x1bb"
    closed_later = EscapingStream(raw)
    raw.close()
    assert closed_later.closed

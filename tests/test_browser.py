"""The built site in a real browser: headless Chromium (Debian packages ``chromium`` and ``chromium-driver``,
installed by ``scripts/setup.sh --test``) driven by selenium.

Loads the site from disk and checks: no request leaves file://, no script from a record runs (a record carries a
script payload in every string field), sorting a column, following a detector link and a record link, the gallery's
pictures, the filters, text contrast (WCAG AA), a fixed first column and no sideways page overflow at 1366x768 and
on a 390x844 phone. Screenshots of each page at both sizes go to ``$BENCHKIT_ARTIFACTS`` (default: the test's
temporary folder). Without Chromium the tests are skipped, unless ``BENCHKIT_REQUIRE_BROWSER=1`` (CI) makes that a
failure.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from records_factory import CATS, make_record, scenario, write_scenario  # noqa: E402

pytestmark = pytest.mark.slow

CHROME = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}
PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">"\'><svg onload=window.__pwned=1>'

if not (CHROME and DRIVER):
    if os.environ.get("BENCHKIT_REQUIRE_BROWSER") == "1":
        pytest.fail("Chromium and chromedriver are required here (run scripts/setup.sh --test as root, or install "
                    "the Debian packages chromium and chromium-driver)", pytrace=False)
    pytest.skip("no chromium/chromedriver (Debian: apt-get install chromium chromium-driver)", allow_module_level=True)


def _hostile_record():
    """A valid record whose every free string holds a script payload."""
    p = PAYLOAD
    rec = make_record(f"evil{p}", f"a{p}", 0, {f"a{p}": {"i_auroc": 0.75}}, dataset=f"toy{p}",
                      setting=f"unified{p}", version=f"1{p}")
    rec.job.dataset_version = rec.job.config["dataset"]["version"] = p
    rec.job.config["detector"]["params"] = {"note": p, p: 1}
    rec.job.config["dataset"]["options"] = {"path": p}
    from benchkit.results import config_hash

    rec.job.config_hash = config_hash(rec.job.config)
    prov = rec.provenance
    prov.cpu, prov.platform, prov.python, prov.executor = p, p, p, p
    prov.packages = {p: p}
    from benchkit.results import PluginRef

    prov.detector_plugin = PluginRef(distribution=p, version=p, source="javascript:window.__pwned=1")
    for s in rec.samples:
        s.id = s.id + p
    return rec


def _failed_hostile():
    p = PAYLOAD
    rec = make_record(f"evil{p}", "b", 0, status="failed", error=p)
    rec.error.traceback = p
    return rec


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from benchkit.site import build_site
    from benchkit.testing import sphere_cloud
    from benchkit.thumbnails import thumbnails_dir, write_thumbnails
    from benchkit import Sample

    tmp = tmp_path_factory.mktemp("browser")
    older = [make_record("good", c, 0, {c: {"i_auroc": 0.6}}, version="0.9") for c in CATS]  # a stale row
    res = write_scenario(tmp / "res", scenario() + older + [_hostile_record(), _failed_hostile()])
    for path in sorted(res.rglob("*.json")):
        data = json.loads(path.read_text())
        job = data["job"]
        if data["status"] == "ok" and job["category"] == "a" and job["setting"] == "one-model-one-class":
            pts, gt = sphere_cloud("ball", 1, True)
            score = np.linalg.norm(pts - pts[0], axis=1) * -1
            write_thumbnails(thumbnails_dir(path), [(Sample(id="a1", category="a", label=1, points=pts, gt=gt), score)])
    index = build_site(res, tmp / "site", expected={"toy": CATS}, reported_dir=_reported(tmp / "reported"))
    return index.parent


def _reported(folder: Path) -> Path:
    """Paper numbers for 'good': a mean the paper's categories disagree with, FPS with hardware, an ablation."""
    folder.mkdir()
    entry = {"method": "Good", "detector": "good", "setting": "one-model-one-class",
             "values": {"a": {"i_auroc": 90.0}, "b": {"i_auroc": 80.0}, "c": {"i_auroc": 70.0},
                        "mean": {"i_auroc": 85.0}},
             "mean_differs": ["i_auroc"], "efficiency": {"throughput_per_s": 3.0}}
    ablation = {"method": "without the long-named component", "detector": "good", "setting": "one-model-one-class",
                "configuration": {"component": False, "other": None}, "params": {"use_component": False},
                "values": {"mean": {"i_auroc": 70.0}}}
    (folder / "good.json").write_text(json.dumps({"paper": "The good paper", "source": "test", "tables": [
        {"table": "Table 1", "dataset": "toy", "scale": "percent", "metric_names": {}, "hardware": "one GPU",
         "entries": [entry]},
        {"table": "Table 2 (ablation)", "dataset": "toy", "scale": "percent", "kind": "ablation", "metric_names": {},
         "entries": [ablation]}]}))
    return folder


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in [*FLAGS, f"--user-data-dir={tempfile.mkdtemp(prefix='benchkit-chromium-')}"]:
        options.add_argument(flag)
    options.binary_location = CHROME
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    folder = Path(os.environ.get("BENCHKIT_ARTIFACTS") or tmp_path_factory.mktemp("screenshots")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _open(driver, path: Path, size=SIZES["desktop"]):
    w, h = size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": w < 600})
    driver.get_log("performance")  # drop what earlier pages logged: _requests then reads this page's requests
    driver.get(path.as_uri())


def _requests(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def _pwned(driver) -> bool:
    return bool(driver.execute_script("return window.__pwned === 1"))


def test_no_external_request_and_no_record_script_runs(site, browser):
    pages = [site / "index.html", *sorted((site / "benchmarks").glob("toy--*.html")),
             *sorted((site / "detectors").glob("evil*.html")), *sorted((site / "records").glob("*.html"))]
    pages += sorted((site / "benchmarks").glob("toy-script*.html"))  # the hostile record's own benchmark
    hostile = [p for p in pages if "evil" in p.name or "records" in p.parts or "script" in p.name]
    assert len(hostile) >= 4
    for page in pages:
        _open(browser, page)
        urls = _requests(browser)
        external = [u for u in urls if not u.startswith(("file://", "data:"))]
        assert not external, (page, external)
        assert not _pwned(browser), f"a record's script ran on {page}"
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]  # CSP violations included
        assert not errors, (page, errors)
    html = (site / "benchmarks" / "toy--one-model-one-class.html").read_text()
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html


def test_sort_a_column_then_follow_detector_record_and_gallery_links(site, browser):
    from selenium.webdriver.common.by import By

    _open(browser, site / "benchmarks" / "toy--one-model-one-class.html")
    table = browser.find_element(By.ID, "ranking-table")

    def first_detector():
        return table.find_element(By.CSS_SELECTOR, "tbody:not([hidden]) th.first a").text

    assert first_detector() == "good"  # rank 1 first, as rendered
    header = table.find_elements(By.CSS_SELECTOR, "thead th")[0]
    header.find_element(By.TAG_NAME, "button").click()
    assert header.get_attribute("aria-sort") == "descending"
    names = [e.text for e in table.find_elements(By.CSS_SELECTOR, "tbody th.first > a")]
    assert names == sorted(names, key=str.lower, reverse=True)
    i_auroc = table.find_elements(By.CSS_SELECTOR, "thead th")[2]
    i_auroc.find_element(By.TAG_NAME, "button").click()
    values = [float(v) for v in browser.execute_script(
        "return Array.from(arguments[0].tBodies).map(b => b.rows[0].cells[2].dataset.sort).filter(v => v !== '')",
        table)]
    assert values == sorted(values, reverse=True) and len(values) >= 3
    table.find_element(By.LINK_TEXT, "partial").click()
    assert browser.current_url.endswith("/detectors/partial.html")
    browser.find_element(By.CSS_SELECTOR, "section a[href*='records/']").click()
    assert "/records/" in browser.current_url and browser.find_element(By.ID, "provenance")
    _open(browser, site / "benchmarks" / "toy--one-model-one-class.html")
    browser.find_element(By.PARTIAL_LINK_TEXT, "anomaly maps").click()
    assert "/galleries/" in browser.current_url
    loaded = browser.execute_script(
        "return Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
    assert len(loaded) >= 6 and all(loaded)


def test_filters_hide_rows(site, browser):
    from selenium.webdriver.common.by import By

    _open(browser, site / "index.html")
    form = browser.find_element(By.CSS_SELECTOR, "form[data-for='results-table']")
    assert form.is_displayed()
    visible = "return Array.from(document.getElementById('results-table').tBodies).filter(b => !b.hidden).length"
    before = browser.execute_script(visible)
    form.find_element(By.CSS_SELECTOR, "input[data-filter='detector']").send_keys("goo")
    after = browser.execute_script(visible)
    assert 0 < after < before and "rows shown" in form.find_element(By.TAG_NAME, "output").text


CONTRAST = """
function lum(c) { const v = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map(x => x / 255)
  .map(x => x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4));
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; }
function bg(el) { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor;
  const a = c.match(/[\\d.]+/g); if (a && (a.length < 4 || Number(a[3]) > 0.5)) return c; } return 'rgb(255,255,255)'; }
const bad = [];
for (const el of document.querySelectorAll('body *')) {
  const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
  if (!own || !el.getClientRects().length) continue;
  const s = getComputedStyle(el); if (s.visibility === 'hidden') continue;
  const l1 = lum(s.color), l2 = lum(bg(el)); const ratio = (Math.max(l1, l2) + .05) / (Math.min(l1, l2) + .05);
  const large = parseFloat(s.fontSize) >= 24 || (parseFloat(s.fontSize) >= 18.66 && Number(s.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5))
    bad.push(el.tagName + ' ' + ratio.toFixed(2) + ' ' + el.textContent.trim().slice(0, 30));
}
return bad;
"""


def test_pages_at_two_sizes_no_overflow_fixed_first_column_contrast_and_screenshots(site, browser, artifacts):
    pages = {"index": site / "index.html", "benchmark": site / "benchmarks" / "toy--one-model-one-class.html",
             "detector": site / "detectors" / "good.html", "record": sorted((site / "records").glob("*.html"))[0],
             "gallery": site / "galleries" / "toy--one-model-one-class.html"}
    bench_html = pages["benchmark"].read_text()
    assert 'id="stale-table"' in bench_html and 'id="deltas-table"' in bench_html
    assert 'id="ablations"' in pages["detector"].read_text()  # the checks below cover those tables too
    for size_name, size in SIZES.items():
        for name, page in pages.items():
            _open(browser, page, size)
            width = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], f"{name} at {size_name}: page is {width[0]} px wide in a {width[1]} px window"
            bad = browser.execute_script(CONTRAST)
            assert not bad, f"{name} at {size_name}: text below WCAG AA contrast: {bad[:5]}"
            full = browser.execute_script("return document.documentElement.scrollHeight")
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": size[0], "height": min(full, 8000), "deviceScaleFactor": 1,
                                     "mobile": size[0] < 600})
            assert browser.save_screenshot(str(artifacts / f"{name}-{size[0]}x{size[1]}.png"))
    assert len(list(artifacts.glob("*.png"))) == 2 * len(pages)
    # on the phone, the detector column stays in view when the ranking table scrolls sideways
    _open(browser, pages["benchmark"], SIZES["phone"])
    moved = browser.execute_script("""
        const box = document.querySelector('#ranking-table').parentElement;
        const cell = document.querySelector('#ranking-table tbody th.first');
        const before = cell.getBoundingClientRect().left; box.scrollLeft = 400;
        return [box.scrollWidth > box.clientWidth, box.scrollLeft, cell.getBoundingClientRect().left - before];""")
    assert moved[0] and moved[1] > 0 and abs(moved[2]) < 1
    print(f"screenshots: {artifacts}")

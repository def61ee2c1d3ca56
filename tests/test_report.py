"""Study → run.json → report: the numbers recorded against the library, the HTML/markdown content,
and the page as headless Chromium renders it (sections present, no broken images)."""
import base64
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import sysid
from sysid import report
from sysid.estimators import BaseEstimator

def open_text(path) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


STUDY = {
    "title": "small pendulum study",
    "data": {"dataset": "pendulum", "options": {"seed": 1, "n_train": 600, "n_test": 300}},
    "compare": {"skip": 20},
    "linearize": {"u0": [0.0]},
    "model": [
        {"name": "lin", "estimator": "N4SID", "params": {"nx": 2}},
        {"name": "net", "estimator": "NeuralNetStep", "decimate": 5,
         "params": {"nx": 2, "hidden": 4, "residual": True, "init_std": 0.1, "epochs": 3, "horizon": 20, "seed": 0}},
    ],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    path = report.run_study(report.check_config(STUDY), out=str(out))
    html, md = report.write_report(path)
    return out, json.loads(open_text(path)), html, md


def test_recorded_scores_and_linearizations_match_the_library(run):
    out, doc, _, _ = run
    d = sysid.datasets.pendulum(seed=1, n_train=600, n_test=300)
    for m in doc["models"]:
        est = BaseEstimator.load(out / m["path"])
        k = m["decimate"]
        res = sysid.compare(est, d.test[::k], x0="estimate", skip=m["compare"]["skip"])
        np.testing.assert_allclose(m["compare"]["test"]["fit_percent"], res.fit_percent, rtol=1e-9)
        poles = np.sort_complex(np.array([complex(*p) for p in m["linearization"]["poles"]]))
        np.testing.assert_allclose(poles, np.sort_complex(est.linearize(u0=[0.0]).poles()), rtol=1e-9)
    assert doc["models"][0]["compare"]["skip"] == 20 and doc["models"][1]["compare"]["skip"] == 4
    assert len(doc["models"][1]["history"]["loss"]) >= 1 and doc["models"][0]["singular_values"]
    ref = doc["data"]["source"]["reference"]
    true_poles = np.array([complex(*p) for p in ref["poles"]])
    np.testing.assert_allclose(np.sort_complex(true_poles),
                               np.sort_complex(d.system.linearize(u0=[0.0]).poles()), rtol=1e-12)


def test_html_is_self_contained_with_every_section(run):
    out, doc, html_path, md_path = run
    text = open_text(html_path)
    for key in report.SECTIONS:
        assert f'<section id="{key}">' in text
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', text)
    figures = sorted(os.listdir(out / "report_figures"))
    assert len(srcs) == len(figures) >= 8
    for src in srcs:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in text and "https://" not in text  # nothing fetched from outside
    assert "lyapunov_stability" in text and "ζ" in text and "DC gain" in text


def test_markdown_twin(run):
    out, _, _, md_path = run
    md = open_text(md_path)
    for title in ("## Data", "## Models and settings", "## Fit", "## Figures", "## Linearization",
                  "## Certificates"):
        assert title in md
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert links and all((out / link).is_file() for link in links)


def test_report_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="run 'sysid fit --config"):
        report.write_report(tmp_path / "run.json")
    (tmp_path / "run.json").write_text('{"format": "sysid-run/1", "mod')
    with pytest.raises(ValueError, match="not valid JSON .* rerun 'sysid fit'"):
        report.write_report(tmp_path / "run.json")
    (tmp_path / "run.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="expected 'sysid-run/1'"):
        report.write_report(tmp_path / "run.json")


def test_config_errors():
    with pytest.raises(report.ConfigError, match="unknown estimator 'X'"):
        report.check_config({"data": {"dataset": "pendulum"}, "model": [{"estimator": "X"}]})
    with pytest.raises(report.ConfigError, match="exactly one of dataset"):
        report.check_config({"data": {}, "model": [{"estimator": "N4SID"}]})
    with pytest.raises(report.ConfigError, match="used twice"):
        report.check_config({"data": {"dataset": "pendulum"}, "model": [{"estimator": "N4SID"}] * 2})
    with pytest.raises(report.ConfigError, match="split must be a fraction"):
        report.check_config({"data": {"file": "x.csv", "outputs": ["y"], "split": 2}, "model": [{"estimator": "ARX"}]})


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage"]

_PROBE = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).length;
  var ids = Array.prototype.map.call(document.querySelectorAll('section[id]'), function (s) { return s.id; });
  var p = document.createElement('pre'); p.id = 'probe';
  p.textContent = JSON.stringify({images: imgs.length, broken: broken, sections: ids});
  document.body.appendChild(p);
});
</script></body>"""


def test_chromium_renders_the_report(run, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium found (Debian: apt-get install -y chromium); the report's rendering is untested")
    _, _, html_path, _ = run
    probe = tmp_path / "probe.html"
    probe.write_text(open_text(html_path).replace("</body>", _PROBE), encoding="utf-8")
    env = dict(os.environ, HOME=str(tmp_path))
    dom = subprocess.run([exe, *_FLAGS, f"--user-data-dir={tmp_path / 'profile1'}", "--virtual-time-budget=5000",
                          "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120, env=env)
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, "the page's script did not run: " + dom.stdout[:500]
    info = json.loads(found.group(1).replace("&quot;", '"'))
    assert info["sections"] == list(report.SECTIONS)
    assert info["images"] >= 8 and info["broken"] == 0

    shot = tmp_path / "shot.png"
    res = subprocess.run([exe, *_FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", "--window-size=1200,2400",
                          "--hide-scrollbars", f"--screenshot={shot}", html_path], capture_output=True, text=True,
                         timeout=120, env=env)
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)
    assert img.shape[:2] == (2400, 1200)
    assert img[..., :3].std() > 0.05, "the screenshot is blank"


@pytest.mark.slow
def test_pendulum_study_from_the_command_line(tmp_path):
    """The acceptance run: sysid fit --config examples/configs/pendulum.toml && sysid report out/run.json."""
    exe = os.path.join(os.path.dirname(sys.executable), "sysid")
    config = os.path.join(os.path.dirname(__file__), "..", "examples", "configs", "pendulum.toml")
    fit = subprocess.run([exe, "fit", "--config", config, "--quiet"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert fit.returncode == 0, fit.stderr
    rep = subprocess.run([exe, "report", "out/run.json"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert rep.returncode == 0, rep.stderr
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert all(f'<section id="{k}">' in html for k in report.SECTIONS)
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["models"][0]["compare"]["test"]["fit_percent"][0] > 70  # N4SID on the pendulum

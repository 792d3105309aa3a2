"""The installed app works: build the sdist and, from it, the wheel; install the wheel into a fresh
virtual environment outside the checkout; run rnnviz from another folder.

One build and one environment per test module (about 30 s with pip's cache; the dependencies come
from the package index). Nothing here depends on the current folder or on the checkout's own
(editable) installation.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[2]
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "*.egg-info", "build", "dist", "__pycache__",
                                    ".pytest_cache", "*.rnnviz", "screenshots-tmp")


def _run(args, cwd, env=None, timeout=600):
    """Run ``args``; on failure, fail the test with the command's output."""
    out = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited with {out.returncode}\n"
                    f"--- stdout\n{out.stdout[-4000:]}\n--- stderr\n{out.stderr[-4000:]}")
    return out


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist and the wheel built from it (``python -m build``), from a clean copy of the source."""
    pytest.importorskip("build", reason="the 'build' package (in the test extras) builds the wheel")
    root = tmp_path_factory.mktemp("build")
    source = root / "source"
    shutil.copytree(CHECKOUT, source, ignore=NOT_SOURCE)   # no stale egg-info manifest, no writes to the checkout
    _run([sys.executable, "-m", "build", "--outdir", root / "dist", source], cwd=root)
    sdists, wheels = sorted((root / "dist").glob("*.tar.gz")), sorted((root / "dist").glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted((root / "dist").iterdir())
    return {"sdist": sdists[0], "wheel": wheels[0]}


@pytest.fixture(scope="module")
def installed(dist, tmp_path_factory):
    """A fresh virtual environment with the wheel installed; commands run in an empty folder."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=root)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["XDG_CONFIG_HOME"] = str(root / "config")     # the window's settings stay out of the user's
    env["XDG_DATA_HOME"] = str(root / "data")         # and its recovery file
    _run([bin_dir / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q", dist["wheel"]],
         cwd=root, env=env)
    work = root / "work"
    work.mkdir()
    return {"bin": bin_dir, "env": env, "work": work}


def _rnnviz(installed, *args, **env_changes):
    return _run([installed["bin"] / "rnnviz", *args], cwd=installed["work"],
                env={**installed["env"], **env_changes})


def _venv_python(installed, code):
    return _run([installed["bin"] / "python", "-c", textwrap.dedent(code)], cwd=installed["work"],
                env=installed["env"]).stdout


def _checkout_version():
    text = (CHECKOUT / "rnnviz" / "__init__.py").read_text(encoding="utf-8")
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def test_sdist_and_wheel_carry_the_package_data(dist):
    import tarfile
    import zipfile
    data = {f"rnnviz/presets/{p.name}" for p in (CHECKOUT / "rnnviz" / "presets").glob("*.json")}
    assert data, "no preset files in the checkout"
    data |= {f"rnnviz/gui/icons/{p.name}" for p in (CHECKOUT / "rnnviz" / "gui" / "icons").glob("*")
             if p.is_file()}
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        in_wheel = set(wheel.namelist())
    with tarfile.open(dist["sdist"]) as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert not data - in_sdist, f"left out of the sdist: {sorted(data - in_sdist)}"
    assert not data - in_wheel, f"left out of the wheel: {sorted(data - in_wheel)}"


def test_the_installed_package_is_the_wheel_and_reports_its_version(installed):
    where = _venv_python(installed, """
        import importlib.metadata, rnnviz
        print(rnnviz.__file__)
        print(importlib.metadata.version("rnnviz"))
    """).splitlines()
    assert Path(where[0]).resolve().is_relative_to(installed["bin"].parent.resolve()), where[0]     # not the checkout
    version = _checkout_version()
    assert where[1] == version
    assert _rnnviz(installed, "--version").stdout.strip() == f"rnnviz {version}"


def test_presets_lists_every_preset_file_of_the_checkout(installed):
    expected = sorted(p.stem for p in (CHECKOUT / "rnnviz" / "presets").glob("*.json"))
    listed = sorted(p["name"] for p in json.loads(_rnnviz(installed, "presets", "--json").stdout))
    assert listed == expected, f"missing: {sorted(set(expected) - set(listed))}, extra: {sorted(set(listed) - set(expected))}"
    text = _rnnviz(installed, "presets").stdout
    assert all(re.search(rf"^{re.escape(name)} ", text, re.M) for name in expected), text


def test_train_runs_a_preset(installed):
    lines = _rnnviz(installed, "train", "--preset", "char-rnn", "--steps", "50", "--json").stdout.splitlines()
    summary = json.loads(lines[-1])
    assert summary["summary"] is True and summary["step"] == 50
    assert summary["loss"] > 0 and summary["metrics"]["bits_per_char"] > 0


def test_window_runs_offscreen_and_writes_a_screenshot(installed):
    png = installed["work"] / "window.png"
    _rnnviz(installed, "gui", "--preset", "char-rnn", "--autostart", "--quit-after", "3",
            "--screenshot", png, QT_QPA_PLATFORM="offscreen")
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, colours = map(int, _venv_python(installed, f"""
        from PySide6.QtGui import QImage
        image = QImage({str(png)!r})
        w, h = image.width(), image.height()
        colours = {{image.pixel(x, y) for x in range(0, w, 4) for y in range(0, h, 4)}}
        print(w, h, len(colours))
    """).split())
    assert width >= 640 and height >= 400
    assert colours > 50, f"the screenshot looks blank: {colours} colours"

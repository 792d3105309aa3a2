"""The display check that runs before Qt is loaded: one line and exit 2 instead of Qt's abort."""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from rnnviz.gui import display
from rnnviz.gui.display import debian_package, display_problem, not_found_libraries

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 and Wayland checks")


def free_x_display() -> str:
    """A display number no X server listens on."""
    for n in range(173, 300):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return f":{n}"
    pytest.skip("no free X display number")


@pytest.fixture
def libraries_present(monkeypatch):
    monkeypatch.setattr(display, "missing_plugin_libraries", lambda plugin="xcb": [])


@pytest.mark.parametrize("platform", ["offscreen", "minimal", "vnc:size=800x600", "eglfs", "linuxfb"])
def test_platforms_that_draw_without_a_display_need_none(platform):
    assert display_problem({"QT_QPA_PLATFORM": platform}, platform="linux") is None


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_macos_and_windows_always_have_a_display(platform):
    assert display_problem({}, platform=platform) is None


@linux_only
def test_no_display_says_what_to_do_in_one_line(libraries_present):
    problem = display_problem({}, platform="linux")
    assert problem.startswith("rnnviz: no display")
    assert "\n" not in problem
    assert "DISPLAY and WAYLAND_DISPLAY are not set" in problem
    for hint in ("rnnviz train/sample/info/presets", "xvfb-run -a rnnviz gui", "QT_QPA_PLATFORM=offscreen"):
        assert hint in problem
    # an empty QT_QPA_PLATFORM is Qt's default choice; xcb asked for by name needs DISPLAY too
    assert display_problem({"QT_QPA_PLATFORM": ""}, platform="linux") == problem
    assert display_problem({"QT_QPA_PLATFORM": "xcb"}, platform="linux") == problem


@linux_only
def test_a_display_no_server_answers_on_is_refused(libraries_present):
    name = free_x_display()
    problem = display_problem({"DISPLAY": name}, platform="linux")
    assert f"cannot open the X display '{name}'" in problem
    assert "XAUTHORITY" in problem and "\n" not in problem


@linux_only
def test_missing_x11_plugin_libraries_are_named_with_their_packages(monkeypatch):
    monkeypatch.setattr(display, "missing_plugin_libraries",
                        lambda plugin="xcb": ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"])
    problem = display_problem({"DISPLAY": ":0"}, platform="linux")
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1 not found" in problem
    assert "libxcb-icccm4 libxcb-keysyms1" in problem
    assert "libxcb-cursor0" not in problem          # Qt's own message names it whatever is missing
    # without a display the same libraries are still named: xvfb-run needs them too
    assert "libxcb-icccm4 libxcb-keysyms1" in display_problem({}, platform="linux")


def test_ldd_not_found_lines_are_read_once_each():
    out = ("\tlibQt6XcbQpa.so.6 => /x/libQt6XcbQpa.so.6 (0x1)\n"
           "\tlibxcb-icccm.so.4 => not found\n"
           "\tlibxcb-util.so.1 => /lib/libxcb-util.so.1 (0x2)\n"
           "\tlibxcb-keysyms.so.1 => not found\n"
           "\tlibxcb-icccm.so.4 => not found\n")
    assert not_found_libraries(out) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


@pytest.mark.parametrize("soname, package", [
    ("libxcb-icccm.so.4", "libxcb-icccm4"), ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"), ("libEGL.so.1", "libegl1"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"), ("libX11-xcb.so.1", "libx11-xcb1"),
    ("libdbus-1.so.3", "libdbus-1-3"), ("libglib-2.0.so.0", "libglib2.0-0"),
])
def test_debian_package_of_a_shared_library(soname, package):
    assert debian_package(soname) == package


@linux_only
def test_wayland_needs_a_compositor_socket(tmp_path):
    env = {"QT_QPA_PLATFORM": "wayland", "XDG_RUNTIME_DIR": str(tmp_path), "WAYLAND_DISPLAY": "wayland-7"}
    problem = display_problem(env, platform="linux")
    assert "cannot reach a Wayland compositor" in problem and "no such socket" in problem
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "wayland-7"))
    server.listen(1)
    try:
        assert display_problem(env, platform="linux") is None
        # a list is tried in order: Wayland works here, so X11's absence does not matter
        assert display_problem({**env, "QT_QPA_PLATFORM": "wayland;xcb"}, platform="linux") is None
    finally:
        server.close()


@linux_only
def test_gui_without_a_display_exits_2_with_one_line_before_qt_loads():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = ""
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "rnnviz", "gui"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.splitlines()) == 1, out.stderr
    assert out.stderr.startswith("rnnviz: no display") and "xvfb-run" in out.stderr
    assert out.stdout == ""
    assert time.monotonic() - started < 20


@linux_only
def test_gui_on_a_display_nobody_serves_exits_2_with_one_line():
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["DISPLAY"] = free_x_display()
    out = subprocess.run([sys.executable, "-m", "rnnviz"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.splitlines()) == 1, out.stderr
    assert "rnnviz:" in out.stderr and ("X display" in out.stderr or "not found" in out.stderr)


def test_the_display_check_loads_no_qt():
    code = ("import sys, rnnviz.gui.display as d; d.display_problem({}, platform='linux'); "
            "print([m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


@linux_only
@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="Xvfb is not installed")
def test_a_running_x_server_passes(libraries_present):
    # -displayfd: Xvfb picks a free display number itself and writes it when it is ready
    server = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "640x480x24", "-nolisten", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        number = server.stdout.readline().strip()
        if not number.isdigit():
            pytest.skip("Xvfb did not start")
        assert display.x11_connection_error(f":{number}") is None
        assert display_problem({"DISPLAY": f":{number}"}, platform="linux") is None
    finally:
        server.terminate()
        server.wait(10)

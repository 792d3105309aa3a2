"""Can a window be opened here? Asked before Qt is imported, so a machine without a display (SSH,
a container) gets one line saying what to do instead of Qt's abort (exit 134 and seven lines, one
of them naming a library that may well be installed).

No Qt here: the check reads the environment, tries to connect to the X server (libxcb through
ctypes) or the Wayland socket, and asks ``ldd`` which shared libraries Qt's X11 plugin lacks.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
import threading

# Qt platform plugins that draw without a display server (or that this check knows nothing about).
NEEDS_X11 = {"xcb"}
CONNECT_TIMEOUT = 5.0      # seconds to wait for an X server (a remote DISPLAY may not answer)

WITHOUT_A_WINDOW = ("Without a window: rnnviz train/sample/info/presets; for screenshots: "
                    "xvfb-run -a rnnviz gui ...; for tests: QT_QPA_PLATFORM=offscreen")

# Debian/Ubuntu package of a shared library, where the usual rule (lower case, the soname's
# version appended, with a hyphen after a digit) does not give it.
DEBIAN_PACKAGES = {
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libpng16.so.16": "libpng16-16",
}


def display_problem(environ=None, platform: str | None = None) -> str | None:
    """None if Qt can open a window here; otherwise one line saying why and what to do instead.

    Honours ``QT_QPA_PLATFORM`` (a name, ``name:options`` or a ``;``-separated list tried in
    order): ``xcb`` needs an X server that accepts a connection on ``DISPLAY`` and the shared
    libraries of Qt's X11 plugin; ``wayland*`` needs a compositor's socket; the others
    (offscreen, minimal, vnc, eglfs, ...) need no display. On macOS and Windows there is always one.
    """
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith(("win", "darwin", "cygwin")):
        return None
    requested = [p.split(":")[0].strip() for p in env.get("QT_QPA_PLATFORM", "").split(";")]
    requested = [p for p in requested if p]
    if not requested:
        # Qt's choice on Linux: Wayland in a Wayland session, X11 otherwise; either will do.
        requested = ["wayland", "xcb"] if env.get("WAYLAND_DISPLAY") else ["xcb"]
    problems = []
    for name in requested:
        if name in NEEDS_X11:
            problem = x11_problem(env)
        elif name.startswith("wayland"):
            problem = wayland_problem(env)
        else:
            return None
        if problem is None:
            return None
        problems.append(problem)
    return f"rnnviz: {problems[-1]}"


def x11_problem(env) -> str | None:
    """Why Qt's X11 plugin cannot open a window on ``env['DISPLAY']``, or None."""
    display = env.get("DISPLAY", "")
    missing = missing_plugin_libraries("xcb")
    install = _install_hint(missing)
    if not display:
        where = "DISPLAY is not set" if env.get("WAYLAND_DISPLAY") else "DISPLAY and WAYLAND_DISPLAY are not set"
        extra = f" (xvfb-run needs Qt's X11 libraries too: {install})" if missing else ""
        return f"no display to open the window on ({where}). {WITHOUT_A_WINDOW}{extra}."
    if missing:
        return (f"Qt's X11 plugin cannot load: {', '.join(missing)} not found; {install}. "
                f"{WITHOUT_A_WINDOW}.")
    error = x11_connection_error(display)
    if error:
        return (f"cannot open the X display '{display}' ({error}; is an X server running there, and may "
                f"this user use it? check DISPLAY and XAUTHORITY). {WITHOUT_A_WINDOW}.")
    return None


def wayland_problem(env) -> str | None:
    """Why no Wayland compositor can be reached, or None."""
    if env.get("WAYLAND_SOCKET"):
        return None      # a socket handed over by the compositor
    name = env.get("WAYLAND_DISPLAY") or "wayland-0"
    runtime = env.get("XDG_RUNTIME_DIR", "")
    path = name if os.path.isabs(name) else os.path.join(runtime, name)
    if not os.path.isabs(name) and not runtime:
        reason = "XDG_RUNTIME_DIR is not set"
    else:
        reason = _unix_connect_error(path)
    if reason is None:
        return None
    unset = "" if env.get("WAYLAND_DISPLAY") else " (WAYLAND_DISPLAY is not set)"
    return f"cannot reach a Wayland compositor at {path}{unset}: {reason}. {WITHOUT_A_WINDOW}."


def x11_connection_error(display: str, timeout: float = CONNECT_TIMEOUT) -> str | None:
    """Try to connect to the X server named by ``display`` (libxcb via ctypes); None if it answers."""
    import ctypes

    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return "libxcb.so.1, the X11 client library, is not installed"
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]
    xcb.xcb_connection_has_error.restype = ctypes.c_int
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    result: list[str | None] = []

    def connect() -> None:      # ctypes releases the GIL: a server that never answers cannot hang us
        screen = ctypes.c_int(0)
        connection = xcb.xcb_connect(display.encode(), ctypes.byref(screen))
        code = xcb.xcb_connection_has_error(connection)
        xcb.xcb_disconnect(connection)
        result.append(None if code == 0 else _XCB_ERRORS.get(code, f"xcb error {code}"))

    thread = threading.Thread(target=connect, name="rnnviz-display-check", daemon=True)
    thread.start()
    thread.join(timeout)
    if not result:
        return f"no answer within {timeout:g} s"
    return result[0]


_XCB_ERRORS = {
    1: "the connection failed",          # XCB_CONN_ERROR: no server, refused, or not authorised
    2: "an unsupported extension",
    3: "out of memory",
    4: "a request too long",
    5: "the display name could not be parsed",
    6: "no such screen",
    7: "a bad file descriptor",
}


def missing_plugin_libraries(plugin: str = "xcb") -> list[str]:
    """Shared libraries Qt's platform plugin ``plugin`` needs and this system lacks (``ldd``'s
    "not found" lines, each once); empty if all are there or this cannot be told."""
    path = plugin_path(plugin)
    ldd = shutil.which("ldd")
    if path is None or ldd is None:
        return []
    try:
        out = subprocess.run([ldd, path], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return not_found_libraries(out)


def not_found_libraries(ldd_output: str) -> list[str]:
    """The sonames ``ldd`` reports as "not found", in order, each once."""
    names = re.findall(r"^\s*(\S+)\s+=>\s+not found", ldd_output, flags=re.MULTILINE)
    return list(dict.fromkeys(names))


def plugin_path(plugin: str) -> str | None:
    """PySide6's ``libq<plugin>.so``, found without importing PySide6."""
    try:
        spec = importlib.util.find_spec("PySide6")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "Qt", "plugins", "platforms", f"libq{plugin}.so")
        if os.path.isfile(path):
            return path
    return None


def debian_package(soname: str) -> str:
    """The Debian/Ubuntu package that ships a shared library, e.g. libxcb-icccm.so.4 -> libxcb-icccm4."""
    if soname in DEBIAN_PACKAGES:
        return DEBIAN_PACKAGES[soname]
    match = re.fullmatch(r"(.+)\.so\.(\d+)(?:\.\d+)*", soname)
    if not match:
        return soname
    base, version = match.group(1).lower(), match.group(2)
    return f"{base}-{version}" if base[-1].isdigit() else f"{base}{version}"


def _install_hint(missing: list[str]) -> str:
    if not missing:
        return ""
    packages = " ".join(dict.fromkeys(debian_package(name) for name in missing))
    if os.path.exists("/etc/debian_version") or shutil.which("apt-get"):
        return f"install them with: sudo apt-get install {packages}"
    return f"install the packages that provide them (on Debian or Ubuntu: {packages})"


def _unix_connect_error(path: str) -> str | None:
    if not os.path.exists(path):
        return "no such socket"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(path)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None

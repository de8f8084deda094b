"""Before Qt loads its X11 plugin: name the system libraries it lacks and the command that
installs them.

When a library of the xcb platform plugin is missing, Qt aborts the process with "could not load
the Qt platform plugin xcb" and blames whichever library it happened to try (often one that is
installed); finding the real culprits takes QT_DEBUG_PLUGINS=1 and ldd. This asks ldd first.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Debian/Ubuntu package of each library the plugin (libqxcb.so and libQt6XcbQpa) loads.
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0", "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-shm.so.0": "libxcb-shm0", "libxcb-util.so.1": "libxcb-util1",
    "libxcb-render.so.0": "libxcb-render0", "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1", "libX11.so.6": "libx11-6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1", "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1", "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3", "libglib-2.0.so.0": "libglib2.0-0",
}


def xcb_plugin() -> Path | None:
    """PySide6's X11 platform plugin, when it has one."""
    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.exists() else None


def missing_libraries(plugin: Path) -> list[str]:
    """The libraries `ldd` cannot find for `plugin` (and what it loads); [] when ldd is absent."""
    try:
        out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split("=>")[0].strip() for line in out.splitlines() if "not found" in line]


def xcb_problem(environ=os.environ, platform: str = sys.platform) -> str | None:
    """What to install when Qt is about to load its X11 plugin and libraries it needs are
    missing; None when it is not about to (another platform, offscreen) or nothing is missing."""
    wanted = environ.get("QT_QPA_PLATFORM", "")
    if not platform.startswith("linux") or (wanted and not wanted.startswith("xcb")):
        return None
    if not wanted and (environ.get("WAYLAND_DISPLAY") or not environ.get("DISPLAY")):
        return None  # Qt picks Wayland, or there is no X server to talk to (its own message)
    plugin = xcb_plugin()
    missing = missing_libraries(plugin) if plugin else []
    if not missing:
        return None
    packages = sorted({DEBIAN_PACKAGES[lib] for lib in missing if lib in DEBIAN_PACKAGES})
    command = (f"\n  sudo apt-get install -y {' '.join(packages)}\n(Debian/Ubuntu; on other "
               "distributions install the packages that provide those files)"
               if packages else "\n(install the packages that provide those files)")
    return (f"LayerLab cannot open its window: Qt's X11 plugin needs system libraries that are "
            f"missing: {', '.join(missing)}. Install them with:{command}. The headless "
            "commands (python main.py validate/summary/train ...) work without them.")

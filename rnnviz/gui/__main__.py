"""``python -m rnnviz.gui [FILE] [--preset NAME] [--autostart] [--quit-after S] [--screenshot F.png]``."""

from __future__ import annotations

import argparse


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnnviz.gui", description="Open the rnnviz window.")
    parser.add_argument("session", nargs="?", help="a session file (.rnnviz) to open")
    parser.add_argument("--preset", help="open this preset (see `rnnviz presets`)")
    parser.add_argument("--autostart", action="store_true", help="start training at once")
    parser.add_argument("--quit-after", type=float, metavar="SECONDS", help="close after this many seconds")
    parser.add_argument("--screenshot", metavar="FILE.png", help="save the window as a PNG just before quitting")
    args = parser.parse_args(argv)
    from .app import run_gui
    return run_gui(args.session, preset=args.preset, autostart=args.autostart, quit_after=args.quit_after,
                   screenshot=args.screenshot)


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env bash
# Smoke test of an installed rnnviz: .ci/smoke.sh VENV_PYTHON
# Runs the `rnnviz` next to VENV_PYTHON from an empty temporary folder: --version, presets (every
# preset file of this checkout must be listed), a short training run, the window offscreen with a
# screenshot that must not be blank. Any failure exits non-zero.
set -euo pipefail
py=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
rnnviz=$(dirname "$py")/rnnviz
presets_dir=$(cd "$(dirname "$0")/../rnnviz/presets" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export XDG_CONFIG_HOME="$work/config"     # the window's settings stay out of the user's
export XDG_DATA_HOME="$work/data"         # and its recovery file
unset PYTHONPATH PYTHONHOME

echo "== $("$py" --version) ($py)"
"$rnnviz" --version

"$rnnviz" presets >presets.txt
"$rnnviz" presets --json >presets.json
"$py" - presets.json "$presets_dir" <<'PY'
import json, pathlib, sys
listed = sorted(p["name"] for p in json.loads(pathlib.Path(sys.argv[1]).read_text()))
expected = sorted(p.stem for p in pathlib.Path(sys.argv[2]).glob("*.json"))
assert listed == expected, f"rnnviz presets lists {listed}, the checkout has {expected}"
print(f"presets: {len(listed)}, as in the checkout")
PY

"$rnnviz" train --preset addition --steps 20 --json >train.jsonl
"$py" - train.jsonl <<'PY'
import json, pathlib, sys
summary = json.loads(pathlib.Path(sys.argv[1]).read_text().splitlines()[-1])
assert summary["summary"] is True and summary["step"] == 20, summary
print(f"train: {summary['step']} steps, loss {summary['loss']:.4g}")
PY

QT_QPA_PLATFORM=offscreen "$rnnviz" gui --preset char-rnn --autostart --quit-after 2 \
  --screenshot "$work/window.png" 2>window.log || { cat window.log >&2; exit 1; }
"$py" - "$work/window.png" <<'PY'
import sys
from PySide6.QtGui import QImage
image = QImage(sys.argv[1])
w, h = image.width(), image.height()
colours = len({image.pixel(x, y) for x in range(0, w, 4) for y in range(0, h, 4)})
assert w >= 640 and h >= 400 and colours > 50, f"screenshot {w}x{h} with {colours} colours looks blank"
print(f"window: screenshot {w}x{h}, {colours} colours")
PY
echo "== smoke test passed"

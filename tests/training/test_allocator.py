"""glibc's malloc thresholds: a training step's freed arrays are reused by the next step."""

import os
import platform
import subprocess
import sys

import pytest

from rnnviz.training import allocator

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# four 4 MB arrays per "step", all freed at its end: the pattern of a training step's caches.
# Prints the page faults of 20 such steps after the first.
_STEPS = """
import resource, sys
import numpy as np
from rnnviz.training import allocator
print(allocator.keep_freed_memory() if sys.argv[1] == "keep" else "untouched")
def step():
    arrays = [np.ones(1 << 20, dtype=np.float32) for _ in range(4)]
    return sum(float(a[-1]) for a in arrays)
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items()
           if k != "GLIBC_TUNABLES" and not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", _STEPS, mode], capture_output=True, text=True, env=env,
                         check=True, timeout=120).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_steps_reuse_freed_pages_once_thresholds_are_raised():
    applied, kept = _faults("keep")
    untouched, fresh = _faults("default")
    assert applied == "True" and untouched == "untouched"
    # 20 steps x 16 MB of fresh pages is ~80,000 faults; reused pages fault (almost) never
    assert fresh > 20_000
    assert kept < fresh / 20


@pytest.mark.parametrize("environ, tuned", [
    ({}, False),
    ({"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX2"}, False),
    ({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1000"}, True),
    ({"MALLOC_TRIM_THRESHOLD_": "1000"}, True),
    ({"MALLOC_MMAP_THRESHOLD_": "1000"}, True),
])
def test_a_users_own_malloc_setting_wins(environ, tuned):
    assert allocator.user_tunes_malloc(environ) is tuned


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_a_user_setting_leaves_the_thresholds_alone():
    code = ("from rnnviz.training import allocator; print(allocator.keep_freed_memory())")
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="131072")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         timeout=120).stdout.strip()
    assert out == "False"

"""Session files (``*.rnnviz``): everything needed to continue training as if never stopped.

Low level: ``save_tree`` / ``load_tree`` / ``read_header`` store a tree of plain values and numpy
arrays in a versioned, pickle-free zip (``format``, ``io``).
"""

from rnnviz.session.format import FORMAT_VERSION, MIGRATIONS, ArrayRef, SessionError
from rnnviz.session.io import load_tree, read_header, save_tree

__all__ = [
    "FORMAT_VERSION", "MIGRATIONS", "ArrayRef", "SessionError",
    "load_tree", "read_header", "save_tree",
]

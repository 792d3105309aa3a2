"""Session files (``*.rnnviz``): everything needed to continue training as if never stopped.

High level (``session``): ``save_session(trainer, path)``, ``load_session(path) -> Trainer``,
``describe_session(path)`` for ``rnnviz info``.
Low level (``format``, ``io``): ``save_tree`` / ``load_tree`` / ``read_header`` store a tree of
plain values and numpy arrays in a versioned, pickle-free zip; every problem is a ``SessionError``.
"""

from rnnviz.session.format import FORMAT_VERSION, MIGRATIONS, ArrayRef, SessionError
from rnnviz.session.io import check_save_target, is_session_file, load_tree, read_array, read_header, save_tree
from rnnviz.session.session import describe_session, load_session, save_session

__all__ = [
    "FORMAT_VERSION", "MIGRATIONS", "ArrayRef", "SessionError",
    "check_save_target", "is_session_file", "load_tree", "read_array", "read_header", "save_tree",
    "describe_session", "load_session", "save_session",
]

"""The errors rnnviz reports to the user as the user's to fix.

Only these are turned into a one-line message (command line: exit code 2; window: a dialog).
Anything else that escapes is a bug in rnnviz and is shown with its traceback and a request to
report it, so that a bug never looks like the user's mistake.

    RnnvizError
    ├── InputError        bad input: a setting, an argument, a text, a corpus
    │   └── SettingError  one Config field out of range (names the field)
    └── FileError         a file that cannot be read or written as asked
        └── SessionError  a session file: damaged, unsupported, or an unsafe save target
"""

from __future__ import annotations

REPORT_URL = "https://github.com/rnnviz/rnnviz/issues"
BUG_LINE = f"This is a bug in rnnviz. Please report it, with the lines above, at {REPORT_URL}"


class RnnvizError(Exception):
    """A problem with what the user asked for or gave; ``str(error)`` is a one-line message."""

    def __init__(self, message: str = ""):
        super().__init__(" ".join(str(message).split()))


class InputError(RnnvizError, ValueError):
    """Bad input: an argument, a text or a corpus the run cannot use.

    It is also a ``ValueError``, so code that validates arguments reads naturally to callers."""


class SettingError(InputError):
    """A setting out of range or of the wrong kind.

    ``setting`` is the Config field; ``problem`` the rest of the sentence, so that the command
    line can name its flag (``--sample-every must be ...``) and the window its control."""

    def __init__(self, setting: str, problem: str):
        super().__init__(f"{setting} {problem}")
        self.setting, self.problem = setting, problem


class FileError(RnnvizError):
    """A file that cannot be read or written as asked (missing, a folder, no space, ...)."""


class SessionError(FileError, ValueError):
    """A session file could not be saved or loaded: damaged, from a newer rnnviz, or an unsafe target.

    It is also a ``ValueError``, as it was before these types existed."""

"""Date normalisation: a date written the way people write it, to ISO 8601.

``Thursday, May 3, 1979`` → ``1979-05-03``, from any of :data:`FORMATS` (15 human formats), as in
the course's date-translation assignment: the input is the date's characters padded with a pad
symbol to Tx = 30, the output the 10 characters of the ISO date (Ty = 10). Month and weekday
names come from the standard library (:mod:`calendar`), read in the C locale so that the task and
its vocabulary are the same on every machine. Dates run from :data:`FIRST` to :data:`LAST`;
two-digit years stand for 1950–2049 (``79`` is 1979, ``05`` is 2005), so every input has one
answer. Slashes always put the month first (US ``05/03/79``), dots the day (``3.5.1979``).

Held out: ``n_test`` dates (each in one format) chosen by the held-out generator; training draws
a date uniformly from all the *other* dates and a format uniformly from :data:`FORMATS`, so no
held-out date is ever seen in training, in any format.
"""

from __future__ import annotations

import calendar
import datetime

import numpy as np

from rnnviz.errors import InputError
from rnnviz.tasks.base import escape_char
from rnnviz.tasks.seq2seq import Seq2SeqTask

FIRST = datetime.date(1950, 1, 1)
LAST = datetime.date(2049, 12, 31)
INPUT_LENGTH = 30
OUTPUT_LENGTH = 10
PAD = "·"
"""The pad symbol's label (its own token, never a character of a date)."""
OUTPUT_SYMBOLS = "0123456789-"


def _english_names() -> tuple[list[str], list[str], list[str], list[str]]:
    """Month names, month abbreviations, weekday names, weekday abbreviations (Monday first), from
    :mod:`calendar` in the C locale (a GUI toolkit may have switched the process to the user's)."""
    with calendar.different_locale("C"):
        return (list(calendar.month_name)[1:], list(calendar.month_abbr)[1:],
                list(calendar.day_name), list(calendar.day_abbr))


MONTHS, MONTHS_ABBR, DAYS, DAYS_ABBR = _english_names()


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st, 22nd, 23rd, 31st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _parts(d: datetime.date) -> dict:
    return {"d": d.day, "dd": f"{d.day:02d}", "m": d.month, "mm": f"{d.month:02d}", "yyyy": f"{d.year:04d}",
            "yy": f"{d.year % 100:02d}", "month": MONTHS[d.month - 1], "mon": MONTHS_ABBR[d.month - 1],
            "day": DAYS[d.weekday()], "dy": DAYS_ABBR[d.weekday()], "dth": ordinal(d.day)}


FORMATS = (
    "{d} {month} {yyyy}",                  # 3 May 1979
    "{day}, {month} {d}, {yyyy}",          # Thursday, May 3, 1979
    "{mm}/{dd}/{yy}",                      # 05/03/79
    "{month} {dth} {yy}",                  # May 3rd 79
    "{d}.{m}.{yyyy}",                      # 3.5.1979
    "{yyyy} {month} {dd}",                 # 1979 May 03
    "{month} {d}, {yyyy}",                 # May 3, 1979
    "{dth} of {month} {yyyy}",             # 3rd of May 1979
    "{dd} {mon} {yyyy}",                   # 03 May 1979
    "{dy}, {dd} {mon} {yyyy}",             # Thu, 03 May 1979
    "{m}/{d}/{yyyy}",                      # 5/3/1979
    "{dd}.{mm}.{yy}",                      # 03.05.79
    "{day} {d} {month} {yyyy}",            # Thursday 3 May 1979
    "{mon} {d} {yy}",                      # May 3 79
    "{yyyy}-{mm}-{dd}",                    # 1979-05-03 (already ISO)
)
"""The human formats, as ``str.format`` templates over :func:`_parts`."""


def human_date(d: datetime.date, fmt: int) -> str:
    """Date d written in format ``FORMATS[fmt]``."""
    return FORMATS[fmt].format(**_parts(d))


def _input_alphabet() -> list[str]:
    """Every character any format writes for any date: those of a whole year (all months, weekdays,
    days and ordinal suffixes) and the digits of every year."""
    chars = set("0123456789")
    year = datetime.date(2001, 1, 1)
    for k in range(365):
        d = year + datetime.timedelta(days=k)
        for fmt in range(len(FORMATS)):
            chars.update(human_date(d, fmt))
    return sorted(chars)


class DatesTask(Seq2SeqTask):
    """x (30, N) int64 characters of a human date then pads; y (10, N) int64 its ISO characters.

    Input tokens: the characters of :func:`_input_alphabet` (ids in sorted order), then the pad.
    Output tokens: the 11 characters of ``OUTPUT_SYMBOLS``.
    """

    name = "dates"

    def __init__(self, config, rng, corpus_text=None):
        super().__init__(config, rng, corpus_text)
        self.input_length, self.output_length = INPUT_LENGTH, OUTPUT_LENGTH
        self.alphabet = _input_alphabet()
        self.pad = len(self.alphabet)
        self.input_size = len(self.alphabet) + 1
        self.output_size = len(OUTPUT_SYMBOLS)
        self._char_ids = {ch: i for i, ch in enumerate(self.alphabet)}
        n_days = (LAST - FIRST).days + 1
        if not 1 <= config.n_test < n_days:
            raise InputError(f"the dates task holds out n_test dates out of {n_days}; "
                             f"n_test must be between 1 and {n_days - 1} (got {config.n_test})")
        held = self._held_out_rng()
        test_days = held.choice(n_days, size=config.n_test, replace=False)
        test_formats = held.integers(0, len(FORMATS), size=config.n_test)
        is_test = np.zeros(n_days, dtype=bool)
        is_test[test_days] = True
        self.train_days = np.flatnonzero(~is_test)                      # day offsets from FIRST
        self.test_days = test_days.astype(np.int64)
        self.test_pairs = self._pairs(self.test_days, test_formats)
        self._setup_held_out()

    # --- text <-> tokens ------------------------------------------------------------------------
    def encode_input(self, text: str) -> np.ndarray:
        """Token ids (Tx,) of a date as written, padded to Tx; ``InputError`` if it does not fit."""
        if len(text) > self.input_length:
            raise InputError(f"{text!r} is longer than the {self.input_length} characters the input holds")
        try:
            ids = [self._char_ids[ch] for ch in text]
        except KeyError as err:
            raise InputError(f"character {err.args[0]!r} is not in the dates task's alphabet") from None
        return np.array(ids + [self.pad] * (self.input_length - len(ids)), dtype=np.int64)

    def _pairs(self, days: np.ndarray, formats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        xs = np.empty((len(days), self.input_length), dtype=np.int64)
        ys = np.empty((len(days), self.output_length), dtype=np.int64)
        for i, (k, fmt) in enumerate(zip(days, formats)):
            d = FIRST + datetime.timedelta(days=int(k))
            xs[i] = self.encode_input(human_date(d, int(fmt)))
            ys[i] = [OUTPUT_SYMBOLS.index(ch) for ch in d.isoformat()]
        return xs, ys

    def _draw_pairs(self, rng, n):
        days = self.train_days[rng.integers(0, len(self.train_days), size=n)]
        return self._pairs(days, rng.integers(0, len(FORMATS), size=n))

    # --- display --------------------------------------------------------------------------------
    def input_labels(self, tokens) -> list[str]:
        return [PAD if t == self.pad else escape_char(self.alphabet[t]) for t in (int(t) for t in tokens)]

    def input_text(self, tokens) -> str:
        return "".join(self.alphabet[int(t)] for t in tokens if int(t) != self.pad)

    def output_text(self, tokens) -> str:
        return "".join(OUTPUT_SYMBOLS[int(t)] for t in tokens)

    def chance_loss(self) -> float:
        """Nats per output character ("mean"), times 10 ("sum"): ln(number of training dates) / 10.
        Training dates are uniform, and under teacher forcing a decoder that ignores the input can
        still learn their joint distribution (the dashes, the calendar's rules), so this, not
        ln 11 per character, is the best it can do."""
        per_symbol = float(np.log(len(self.train_days))) / self.output_length
        return per_symbol * self.output_length if self.config.reduction == "sum" else per_symbol

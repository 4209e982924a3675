"""A small progress bar on standard error (a line every 10 % or 60 s when it is not a terminal, e.g. nohup)."""
from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(self, total: int, done: int = 0, stream=None, enabled: bool = True, width: int = 30):
        self.total, self.done, self.cached = total, done, done
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and total > 0
        self.width = width
        self.start = time.monotonic()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_line = 0.0
        self._last_decile = -1
        self._label = ""
        if self.enabled:
            self._show(force=True)

    def update(self, label: str = "", n: int = 1) -> None:
        self.done += n
        self._label = label
        if self.enabled:
            self._show(force=self.done >= self.total)

    def _line(self) -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = int(round(self.width * fraction))
        elapsed = time.monotonic() - self.start
        computed = self.done - self.cached
        remaining = self.total - self.done
        eta = _clock(elapsed / computed * remaining) if computed else "-:--:--"
        cached = f", {self.cached} cached" if self.cached else ""
        return (f"icm-ctc [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}{cached} "
                f"{100 * fraction:5.1f}% elapsed {_clock(elapsed)} eta {eta} {self._label}")

    def _show(self, force: bool = False) -> None:
        if self.tty:
            self.stream.write("\r" + self._line()[:160].ljust(160))
            if self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()
            return
        now = time.monotonic()
        decile = int(10 * self.done / self.total)
        if force or decile != self._last_decile or now - self._last_line > 60:
            self.stream.write(self._line() + "\n")
            self.stream.flush()
            self._last_line, self._last_decile = now, decile

    def close(self) -> None:
        if self.enabled and self.tty and self.done < self.total:
            self.stream.write("\n")
            self.stream.flush()

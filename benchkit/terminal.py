"""What reaches the user's terminal: text with control characters escaped.

Record fields, file names and plugin strings are printed by many commands. Any of them can hold terminal control
sequences (an ANSI escape that recolours or clears the screen, a carriage return that hides what came before), so
`benchkit.cli.main` routes stdout and stderr through `EscapingStream` for the whole command: a control character
is shown as its Python escape (``\\x1b``) instead of acting. Newlines and tabs pass. The progress bar, which redraws
its line with carriage returns and never shows outside text, writes to `progress_stream()`.
"""

from __future__ import annotations

import io
import re
import sys
from typing import TextIO

#: C0 controls except tab and newline, DEL, and the C1 controls (U+0080-U+009F, e.g. the 8-bit CSI).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_control(text: str) -> str:
    """``text`` with every control character but newline and tab replaced by its escape, e.g. ``\\x1b[31m``."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class EscapingStream(io.TextIOBase):
    """A text stream that writes to ``raw`` with `escape_control` applied."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(escape_control(text))
        return len(text)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return self.raw.isatty()

    @property
    def closed(self) -> bool:  # type: ignore[override]
        """The raw stream's state: a library that wrapped this stream (Ray's colorama does, with an exit hook that
        writes a reset code) must see the raw stream closed once it is, or its exit hook fails with a traceback."""
        return bool(getattr(self.raw, "closed", False))

    def close(self) -> None:
        """Never closes the raw stream (it belongs to the interpreter or to whoever passed it); only flushes."""
        if not self.closed:
            self.flush()

    def fileno(self) -> int:
        return self.raw.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.raw, "encoding", "utf-8")


def progress_stream() -> TextIO:
    """The unescaped stderr, for progress bars only (they redraw with carriage returns)."""
    stream = sys.stderr
    return stream.raw if isinstance(stream, EscapingStream) else stream


class escaped_output:
    """Context manager: stdout and stderr escaped for its duration (restored afterwards, also on error)."""

    def __enter__(self) -> None:
        self._saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = EscapingStream(sys.stdout), EscapingStream(sys.stderr)

    def __exit__(self, *exc: object) -> None:
        sys.stdout, sys.stderr = self._saved

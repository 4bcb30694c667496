"""A streamed answer cut at the client's stop strings, handed out only as far as it can no longer change:
text that might be the start of a stop string, or half of a character still being decoded, waits."""

from __future__ import annotations

PARTIAL = "\ufffd"  # what decoding shows for a character whose bytes have not all been generated yet


class StopText:
    def __init__(self, stops: tuple[str, ...]):
        self.stops = stops
        self.hold = max((len(s) for s in stops), default=1) - 1
        self.sent = 0
        self.text = ""
        self.stopped = False

    def update(self, text: str) -> bool:
        """Take the whole answer so far; True once a stop string appears (the answer ends before it)."""
        if self.stopped:
            return True
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            text, self.stopped = text[:cut], True
        self.text = text
        return self.stopped

    def delta(self, final: bool = False) -> str:
        """What can be sent now that was not sent before."""
        end = len(self.text)
        if not (final or self.stopped):
            end -= self.hold
            while end > self.sent and self.text[end - 1] == PARTIAL:
                end -= 1
        if end <= self.sent:
            return ""
        out, self.sent = self.text[self.sent:end], end
        return out

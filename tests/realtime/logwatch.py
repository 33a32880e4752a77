"""What a test server logged since a point: the lines that show something went wrong."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.realtime.servers import WebServer

#: Marks of a failure in the server's log: a traceback, uvicorn's "the app raised", or
#: any record at level error.
PROBLEM_MARKS = ("Traceback", "Exception in ASGI application", '"level": "error"')


@dataclass
class LogWatch:
    """Lines ``server`` logs after ``mark()`` that carry a ``PROBLEM_MARKS`` entry."""

    server: WebServer
    offset: int = field(default=0)

    def mark(self) -> None:
        self.offset = len(self.server.log())

    def problems(self) -> list[str]:
        new = self.server.log()[self.offset :]
        return [line for line in new.splitlines() if any(m in line for m in PROBLEM_MARKS)]

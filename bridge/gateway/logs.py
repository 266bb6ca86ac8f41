"""The gateway's log lines: one handler on the ``x400bridge`` loggers, each line naming the node.

Several gateway nodes may share one queue (issue 15); their logs usually end up in one place
(journald forwarded, a log server), so every line carries the node id (``[gateway] node-id``):
a :class:`NodeFilter` on the handler sets the record's ``node`` field, which both formats
print -- text ``<time> <level> <node> <logger> <message>``, JSON ``{"node": ...}``.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from bridge.config import Config


class NodeFilter(logging.Filter):
    """Sets ``record.node`` on every record the handler writes (a handler filter sees the
    records of every ``x400bridge.*`` logger that propagate to it)."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def filter(self, record: logging.LogRecord) -> bool:
        record.node = self.node
        return True


class Formatter(logging.Formatter):
    """logging's formatter with the time stamp's seconds formatted once per second: the
    standard one calls ``localtime`` and ``strftime`` for every record (a gateway writes two
    per message); the milliseconds are added per record as before."""

    def __init__(self, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self._second = -1
        self._seconds_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        second = int(record.created)
        if second != self._second:      # handlers format under their lock: one writer
            self._seconds_text = time.strftime(self.default_time_format,
                                               self.converter(record.created))
            self._second = second
        msec_format = self.default_msec_format
        return msec_format % (self._seconds_text, record.msecs) if msec_format \
            else self._seconds_text


class JSONFormatter(Formatter):
    """One JSON object per line: time, level, node, logger, message (the message id is in
    it)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps({"time": self.formatTime(record), "level": record.levelname.lower(),
                           "node": getattr(record, "node", ""), "logger": record.name,
                           "message": record.getMessage()})


#: the text format; ``node`` is set by :class:`NodeFilter`
TEXT_FORMAT = "%(asctime)s %(levelname)s %(node)s %(name)s %(message)s"


def setup_logging(config: Config) -> None:
    """Our handler and level on the ``x400bridge`` loggers.  The log records need no caller,
    thread or process fields (the formats above use none), so they are not collected: the
    logging HOWTO's "Optimization" switches -- a gateway logs a line or two per message."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(NodeFilter(config.gateway.node_id))
    if config.log.format == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(Formatter(TEXT_FORMAT))
    root = logging.getLogger("x400bridge")
    root.handlers[:] = [handler]
    root.setLevel(config.log.level.upper())

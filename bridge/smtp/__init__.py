"""The SMTP endpoint: inbound aiosmtpd handler and outbound client (RFC 5321, RFC 3461).

``server`` takes mail at RCPT/DATA into the queue's ``submit``; ``client`` makes one delivery
attempt and reports an outcome per recipient.  The two meet only through the queue.
"""

from bridge.smtp.client import OutboundSettings, deliver
from bridge.smtp.server import (
    InboundHandler,
    InboundSettings,
    RcptDecision,
    SMTPServer,
    start_server,
)

__all__ = ["InboundHandler", "InboundSettings", "OutboundSettings", "RcptDecision",
           "SMTPServer", "deliver", "start_server"]

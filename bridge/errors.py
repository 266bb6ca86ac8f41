"""The one error hierarchy of x400bridge.

Every failure raised by the package derives from :class:`BridgeError`.  An error that a peer will
see carries what to tell it: an SMTP reply (RFC 5321 §4.2 code plus an RFC 3463 enhanced status
code) and an X.400 non-delivery reason and diagnostic (X.411 §8.3.1.2.1.9/10).  Defects -- losses
during conversion that do not stop it -- are *not* errors; they are recorded on results.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class SMTPReply:
    """An SMTP reply: basic code (RFC 5321 §4.2), enhanced code (RFC 3463) and text."""

    code: int
    enhanced: str
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.enhanced} {self.text}"


@dataclass(frozen=True, slots=True, kw_only=True)
class X400Diagnostic:
    """X.411 NonDeliveryReasonCode and NonDeliveryDiagnosticCode (None = absent)."""

    reason: int
    diagnostic: int | None = None


class BridgeError(Exception):
    """Root of every error raised by x400bridge."""

    smtp: SMTPReply = SMTPReply(code=554, enhanced="5.0.0", text="Gateway error")
    x400: X400Diagnostic = X400Diagnostic(reason=1)  # unable-to-transfer (X.411)

    def __init__(
        self,
        message: str,
        *,
        smtp: SMTPReply | None = None,
        x400: X400Diagnostic | None = None,
    ) -> None:
        super().__init__(message)
        if smtp is not None:
            self.smtp = smtp
        if x400 is not None:
            self.x400 = x400


class DecodeError(BridgeError):
    """Input bytes are not a valid encoding.

    ``path`` names the ASN.1 components from the outermost type inward and ``offset`` is the byte
    offset in the input where the problem was found, so an operator can locate it.
    """

    # X.411: unable-to-transfer (1) / content-syntax-error (12)
    smtp = SMTPReply(code=554, enhanced="5.6.0", text="Undecodable X.400 content")
    x400 = X400Diagnostic(reason=1, diagnostic=12)

    def __init__(self, reason: str, *, path: str = "", offset: int | None = None) -> None:
        self.reason = reason
        self.path = path
        self.offset = offset
        where = []
        if path:
            where.append(path)
        if offset is not None:
            where.append(f"offset {offset}")
        super().__init__(f"{reason}" + (f" (at {', '.join(where)})" if where else ""))


class EncodeError(BridgeError):
    """A model value cannot be encoded (violates an X.411/X.420 constraint)."""


class ConfigError(BridgeError):
    """Invalid configuration (unknown key, wrong type); names the dotted path."""


class MappingError(BridgeError):
    """An address that cannot be mapped (RFC 2156 §4.3).

    Carries the SMTP reply for the RCPT/MAIL command (RFC 3463 X.1.x) and the X.400
    non-delivery reason/diagnostic (X.411: unable-to-transfer / unrecognised-OR-name by
    default; invalid-arguments for syntax errors).
    """

    smtp = SMTPReply(code=550, enhanced="5.1.1", text="Address cannot be mapped")
    x400 = X400Diagnostic(reason=1, diagnostic=0)  # unable-to-transfer, unrecognised-OR-name

    def __init__(self, message: str, *, address: str = "", smtp: SMTPReply | None = None,
                 x400: X400Diagnostic | None = None) -> None:
        super().__init__(message, smtp=smtp, x400=x400)
        self.address = address


class AddressSyntaxError(MappingError):
    """An address whose syntax is wrong (RFC 3463 X.1.3, X.411 invalid-arguments)."""

    smtp = SMTPReply(code=553, enhanced="5.1.3", text="Bad address syntax")
    x400 = X400Diagnostic(reason=1, diagnostic=11)  # invalid-arguments


class ProtocolError(BridgeError):
    """A peer broke an OSI protocol (RFC 1006, X.224, X.225, X.226, X.227, X.228, X.419).

    ``layer`` names the layer that detected it ("tpkt", "cotp", "session", "presentation",
    "acse", "rtse", "p1").  The engine that raises it has moved to a closed state; the shell
    answers with the abort its layer defines (or just closes the TCP connection, which is the
    N-DISCONNECT of RFC 1006 §6) -- never a crash or a hang.  X.411: unable-to-transfer,
    transfer-attempts-limit-reached is *not* implied: the message stays queued.
    """

    smtp = SMTPReply(code=451, enhanced="4.4.0", text="X.400 peer protocol error")
    x400 = X400Diagnostic(reason=0)  # transfer-failure (X.411 NonDeliveryReasonCode 0)

    def __init__(self, reason: str, *, layer: str) -> None:
        super().__init__(f"{layer}: {reason}")
        self.reason = reason
        self.layer = layer


class AssociationError(BridgeError):
    """An X.400 association failed: the peer refused the MTA-bind, aborted, did not confirm a
    transfer, or a phase timed out.  The message being transferred stays queued (X.411:
    transfer-failure only after the queue's retries run out)."""

    smtp = SMTPReply(code=451, enhanced="4.4.1", text="X.400 peer unavailable")
    x400 = X400Diagnostic(reason=0)  # transfer-failure

"""Every SMTP reply the inbound endpoint sends, in one place (RFC 5321 §4.2, RFC 3463).

The endpoint advertises ENHANCEDSTATUSCODES, so RFC 2034 §3 applies: every reply except the
greeting and the replies to HELO/EHLO carries an enhanced status code.  Our own replies are the
constants below; aiosmtpd writes a few of its own ("250 OK", "503 Error: need MAIL command",
"552 Error: Too much mail data", ...) without one, and :func:`with_enhanced_code` gives those
theirs on the way out -- the basic code decides the class and subject (RFC 3463 §3).
"""

from __future__ import annotations

import re

from bridge.errors import SMTPReply

#: RFC 3463 §2: ``class "." subject "." detail`` right after the basic code and a space/hyphen.
_HAS_ENHANCED = re.compile(r"^[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}(?:\s|$)")
_REPLY = re.compile(r"^([245]\d\d)([ -])(.*)$", re.DOTALL)

#: Enhanced codes for the basic codes aiosmtpd uses in its own replies (RFC 3463 §3.1-3.8).
ENHANCED_FOR_BASIC: dict[int, str] = {
    220: "2.0.0",  # STARTTLS "Ready to start TLS"
    221: "2.0.0",  # QUIT
    235: "2.7.0",  # AUTH succeeded (RFC 4954 §6)
    250: "2.0.0",
    252: "2.5.0",  # VRFY: cannot verify, will attempt (X.5.0 other protocol status)
    421: "4.4.2",  # timeout / closing (X.4.2 bad connection)
    451: "4.3.0",
    454: "4.7.0",  # TLS not available
    500: "5.5.2",  # syntax error, command unrecognised / line too long
    501: "5.5.4",  # syntax error in parameters
    502: "5.5.1",  # command not implemented
    503: "5.5.1",  # bad sequence of commands
    504: "5.5.4",  # parameter not implemented
    530: "5.7.0",  # STARTTLS / AUTH required
    535: "5.7.8",  # credentials invalid (RFC 4954 §6)
    538: "5.7.11",  # encryption required for mechanism (RFC 5248)
    552: "5.3.4",  # message too big
    553: "5.1.3",  # malformed address
    554: "5.7.0",  # "Command refused due to lack of security"
    555: "5.5.4",  # MAIL/RCPT parameters not recognised
}


def with_enhanced_code(line: str) -> str:
    """``line`` with an RFC 3463 enhanced code after its basic code if it has none.

    Intermediate replies (334, 354) and anything that is not a reply line pass unchanged:
    RFC 3463 defines codes for the 2yz, 4yz and 5yz classes only.
    """
    if _HAS_ENHANCED.match(line):
        return line
    match = _REPLY.match(line)
    if match is None:
        return line
    basic = int(match.group(1))
    enhanced = ENHANCED_FOR_BASIC.get(basic, f"{basic // 100}.0.0")
    return f"{match.group(1)}{match.group(2)}{enhanced} {match.group(3)}"


def _r(code: int, enhanced: str, text: str) -> SMTPReply:
    return SMTPReply(code=code, enhanced=enhanced, text=text)


# -- MAIL (RFC 5321 §4.1.1.2, RFC 1870, RFC 6152, RFC 6531, RFC 3461 §4.3/4.4)
SENDER_OK = _r(250, "2.1.0", "Sender ok")
MAIL_SYNTAX = _r(501, "5.5.4", "Syntax: MAIL FROM:<address> [parameters]")
NESTED_MAIL = _r(503, "5.5.1", "Nested MAIL command")
BAD_SENDER = _r(553, "5.1.7", "Bad sender address syntax")
TOO_BIG = _r(552, "5.3.4", "Message size exceeds fixed maximum message size")
#: RFC 6710 §4.1: a positive MT-PRIORITY from an untrusted client is lowered; X.3.6 and the
#: new priority first in the text
PRIORITY_LOWERED = _r(250, "2.3.6", "0 Sender ok, priority lowered: not authorised")
# -- RCPT (RFC 5321 §4.1.1.3, RFC 3461 §4.1/4.2)
RCPT_OK = _r(250, "2.1.5", "Recipient ok")
RCPT_SYNTAX = _r(501, "5.5.4", "Syntax: RCPT TO:<address> [parameters]")
NEED_MAIL = _r(503, "5.5.1", "Need MAIL command")
BAD_RECIPIENT = _r(553, "5.1.3", "Bad recipient address syntax")
RELAY_DENIED = _r(550, "5.7.1", "Relaying denied")
ONE_DIRECTION = _r(452, "4.5.3", "One direction per message: send this recipient separately")
TOO_MANY_RECIPIENTS = _r(452, "4.5.3", "Too many recipients")  # RFC 5321 §4.5.3.1.10
# -- parameters (RFC 1869 §6, RFC 5321 §4.1.1.11)
PARAM_UNKNOWN = _r(555, "5.5.4", "Parameter not recognised")
PARAM_INVALID = _r(501, "5.5.4", "Invalid parameter")
SMTPUTF8_WITHOUT_EHLO = _r(501, "5.5.4", "SMTPUTF8 requires EHLO")
NON_ASCII_ADDRESS = _r(553, "5.6.7", "Non-ASCII address requires SMTPUTF8")
# -- DATA (RFC 5321 §4.1.1.4, §2.3.8)
QUEUED = "250 2.0.0 Ok: queued as {id}"
BARE_LINE_ENDING = _r(550, "5.6.0", "Bare CR or LF in message data (RFC 5321 2.3.8)")
MAIL_LOOP = _r(554, "5.4.6", "Routing loop detected: too many hops (RFC 5321 6.3)")
QUEUE_FAILED = _r(451, "4.3.0", "Temporary failure queueing the message, try again later")
# -- limits (docs/security.md); RFC 5321 §3.8: 421, then the server closes the connection
TOO_MANY_CONNECTIONS = _r(421, "4.7.0", "Too many connections, try again later")
TOO_MANY_CLIENT_CONNECTIONS = _r(421, "4.7.0",
                                 "Too many connections from your address, try again later")
TOO_MANY_JUNK_COMMANDS = _r(421, "4.7.0", "Too many commands without a message, closing")
TOO_MANY_AUTH_FAILURES = _r(421, "4.7.0", "Too many authentication failures, closing")
TIMEOUT = _r(421, "4.4.2", "Timeout, closing connection")  # RFC 5321 §4.5.3.2, X.4.2
# -- other
AUTH_FAILED = _r(535, "5.7.8", "Authentication credentials invalid")
LOCAL_ERROR = _r(451, "4.3.0", "Local error in processing")

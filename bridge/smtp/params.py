"""MAIL and RCPT parameters of the inbound endpoint: parsing and validation, no I/O.

aiosmtpd upper-cases parameter values and refuses every RCPT parameter, which would lose the
case of ENVID and ORCPT (RFC 3461 §4.2/§4.4: xtext is case-sensitive) -- so the endpoint hands
the parameter words to these functions unchanged.  A refusal raises :class:`ParamError` with
the reply to send.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bridge.errors import BridgeError, SMTPReply
from bridge.smtp import replies

#: RFC 1869 §6: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\Z")
#: RFC 1869 §6 esmtp-value: CHARs except "=", SP and controls (RFC 6531 §3.3 adds UTF-8).
_VALUE = re.compile(r"[\x21-\x3c\x3e-\x7e\x80-\U0010ffff]+\Z")
#: RFC 3461 §4: xtext = *( xchar / hexchar ); xchar = "!".."~" except "+" and "=";
#: hexchar = "+" and two *upper case* hex digits.
_XTEXT = re.compile(r"(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*\Z")
_HEXCHAR = re.compile(r"\+([0-9A-F]{2})")
#: RFC 6533 §3: utf-8-addr-xtext = 1*(QCHAR / EmbeddedUnicodeChar), QCHAR excludes "+", "=", "\".
_UTF8_ADDR_XTEXT = re.compile(
    r"(?:[\x21-\x2a\x2c-\x3c\x3e-\x5b\x5d-\x7e\x80-\U0010ffff]|\\x\{[0-9A-F]{2,6}\})+\Z")
#: RFC 5322 §3.2.3 atom (the addr-type of ORCPT, RFC 3461 §4.2).
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+\Z")

#: RFC 3461 §4.4 and §9 (a): the ENVID parameter is at most 100 characters.
ENVID_MAX = 100
#: RFC 3461 §4.2 and §9 (c): the ORCPT parameter is at most 500 characters.
ORCPT_MAX = 500
#: RFC 6710 §7: priority-value = (["-"] NZDIGIT) / "0"
_MT_PRIORITY = re.compile(r"-?[1-9]\Z|0\Z")
#: RFC 3461 §4.1: NOTIFY is NEVER alone, or a list of these.
NOTIFY_VALUES = ("SUCCESS", "FAILURE", "DELAY")

Body = Literal["7BIT", "8BITMIME"]
Ret = Literal["FULL", "HDRS"]


class ParamError(BridgeError):
    """A MAIL/RCPT parameter is unknown, repeated or malformed; ``smtp`` is the reply."""

    smtp = replies.PARAM_INVALID


def _fail(reply: SMTPReply, detail: str) -> ParamError:
    return ParamError(detail, smtp=SMTPReply(code=reply.code, enhanced=reply.enhanced,
                                             text=f"{reply.text}: {detail}"))


def xtext_decode(value: str) -> str:
    """RFC 3461 §4: decode xtext (``+HH`` to the octet); the octets are ASCII or UTF-8.

    Raises :class:`ParamError` on a malformed value.
    """
    if not _XTEXT.match(value):
        raise _fail(replies.PARAM_INVALID, f"not xtext: {value!r}")
    raw = _HEXCHAR.sub(lambda m: chr(int(m.group(1), 16)), value)
    try:
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError as exc:
        raise _fail(replies.PARAM_INVALID, f"xtext is not UTF-8: {value!r}") from exc


def xtext_encode(value: str) -> str:
    """RFC 3461 §4: the xtext form of ``value`` (UTF-8 octets outside xchar as ``+HH``)."""
    out = []
    for octet in value.encode("utf-8"):
        if 0x21 <= octet <= 0x7E and octet not in (0x2B, 0x3D):
            out.append(chr(octet))
        else:
            out.append(f"+{octet:02X}")
    return "".join(out)


def _split(words: Sequence[str]) -> dict[str, str | None]:
    """RFC 1869 §6 esmtp-param = esmtp-keyword ["=" esmtp-value]; keywords case-insensitive."""
    params: dict[str, str | None] = {}
    for word in words:
        keyword, eq, value = word.partition("=")
        if not _KEYWORD.match(keyword) or (eq and not _VALUE.match(value)):
            raise _fail(replies.PARAM_INVALID, f"malformed parameter {word!r}")
        key = keyword.upper()
        if key in params:
            raise _fail(replies.PARAM_INVALID, f"{key} given twice")
        params[key] = value if eq else None
    return params


@dataclass(frozen=True, slots=True, kw_only=True)
class MailParams:
    """The MAIL FROM parameters we support (RFC 1870, RFC 6152, RFC 6531, RFC 3461)."""

    size: int | None = None
    body: Body | None = None
    smtputf8: bool = False
    ret: Ret | None = None
    envid: str | None = None  # decoded from xtext (RFC 3461 §4.4)
    mt_priority: int | None = None  # RFC 6710 §3: -9..9


@dataclass(frozen=True, slots=True, kw_only=True)
class RcptParams:
    """The RCPT TO parameters we support (RFC 3461 §4.1, §4.2)."""

    notify: tuple[str, ...] = ()
    orcpt: str | None = None  # "addr-type;xtext" exactly as received (RFC 3461 §4.2)


def parse_mail(words: Sequence[str], *, max_size: int) -> MailParams:
    """Validate the parameters of MAIL FROM.

    SIZE (RFC 1870 §6: a declared size over the limit is refused with 552 here and now);
    BODY=7BIT|8BITMIME (RFC 6152 §3); SMTPUTF8 without a value (RFC 6531 §3.4); RET=FULL|HDRS
    (RFC 3461 §4.3); ENVID=xtext (RFC 3461 §4.4); MT-PRIORITY=-9..9 (RFC 6710 §3, §7; a
    malformed value or a second one is 501 5.5.4, §4.1 rule 1).
    """
    params = _split(words)
    size: int | None = None
    body: Body | None = None
    ret: Ret | None = None
    envid: str | None = None
    mt_priority: int | None = None
    smtputf8 = False
    for key, value in params.items():
        if key == "SIZE":
            if value is None or not value.isascii() or not value.isdigit():
                raise _fail(replies.PARAM_INVALID, "SIZE needs a number")
            size = int(value)
            if size > max_size:
                raise ParamError("declared size too big", smtp=replies.TOO_BIG)
        elif key == "BODY":
            upper = (value or "").upper()
            if upper == "7BIT":
                body = "7BIT"
            elif upper == "8BITMIME":
                body = "8BITMIME"
            else:
                raise _fail(replies.PARAM_INVALID, "BODY is 7BIT or 8BITMIME")
        elif key == "SMTPUTF8":
            if value is not None:
                raise _fail(replies.PARAM_INVALID, "SMTPUTF8 takes no value")
            smtputf8 = True
        elif key == "RET":
            upper = (value or "").upper()
            if upper == "FULL":
                ret = "FULL"
            elif upper == "HDRS":
                ret = "HDRS"
            else:
                raise _fail(replies.PARAM_INVALID, "RET is FULL or HDRS")
        elif key == "ENVID":
            if value is None or len(value) > ENVID_MAX:
                raise _fail(replies.PARAM_INVALID, f"ENVID is 1 to {ENVID_MAX} characters")
            envid = xtext_decode(value)
        elif key == "MT-PRIORITY":
            if value is None or not _MT_PRIORITY.match(value):
                raise _fail(replies.PARAM_INVALID, "MT-PRIORITY is -9 to 9")
            mt_priority = int(value)
        else:
            raise _fail(replies.PARAM_UNKNOWN, key)
    return MailParams(size=size, body=body, smtputf8=smtputf8, ret=ret, envid=envid,
                      mt_priority=mt_priority)


def parse_rcpt(words: Sequence[str]) -> RcptParams:
    """Validate the parameters of RCPT TO: NOTIFY (RFC 3461 §4.1) and ORCPT (§4.2).

    NOTIFY is NEVER alone or a comma list of SUCCESS, FAILURE, DELAY, each at most once; the
    values are kept upper-case in the order given.  ORCPT is ``addr-type ";" xtext`` (or the
    RFC 6533 §3 utf-8-addr-xtext when the type is ``utf-8``), kept as received.
    """
    params = _split(words)
    notify: tuple[str, ...] = ()
    orcpt: str | None = None
    for key, value in params.items():
        if key == "NOTIFY":
            items = tuple(v.upper() for v in (value or "").split(","))
            if items == ("NEVER",):
                notify = items
            elif (all(v in NOTIFY_VALUES for v in items)
                  and len(set(items)) == len(items) and value):
                notify = items
            else:
                raise _fail(replies.PARAM_INVALID,
                            "NOTIFY is NEVER or a list of SUCCESS, FAILURE, DELAY")
        elif key == "ORCPT":
            if value is None or len(value) > ORCPT_MAX:
                raise _fail(replies.PARAM_INVALID, f"ORCPT is 1 to {ORCPT_MAX} characters")
            addr_type, semi, address = value.partition(";")
            if not semi or not _ATOM.match(addr_type) or not address:
                raise _fail(replies.PARAM_INVALID, "ORCPT is addr-type;xtext")
            if addr_type.lower() == "utf-8":
                if not _UTF8_ADDR_XTEXT.match(address):
                    raise _fail(replies.PARAM_INVALID, "ORCPT utf-8 address malformed")
            else:
                xtext_decode(address)
            orcpt = value
        else:
            raise _fail(replies.PARAM_UNKNOWN, key)
    return RcptParams(notify=notify, orcpt=orcpt)

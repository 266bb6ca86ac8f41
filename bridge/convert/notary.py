"""SMTP DSN (NOTARY) envelope parameters and their X.400 mapping (RFC 3461 §4, RFC 2156
App A §3).

The SMTP side of a conversion is an :class:`SmtpEnvelope`: MAIL FROM with ``RET`` and
``ENVID`` (RFC 3461 §4.3, §4.4) and, per recipient, an :class:`SmtpRecipient` with
``NOTIFY`` and ``ORCPT`` (§4.1, §4.2).  Values are held decoded; :func:`xtext_encode` /
:func:`xtext_decode` (§4) and the ``esmtp_params`` / ``from_esmtp`` helpers give and take
the wire forms.

RFC 2156 App A §3 (R-11) -- optional, but when used exactly so:

========================  ========================================================
SMTP -> X.400 (§3.1)
NOTIFY=NEVER              originator-report and originator-non-delivery-report 0
NOTIFY with SUCCESS       originator-report (X.411 ``report``)
other NOTIFY / none       originator-non-delivery-report (RFC 3461 §4.1 default)
ORCPT=x400 / rfc822       redirection-history element: the ORCPT address, dated at
                          conversion, reason ``alias``
ENVID                     content-correlator ``"SMTP/NOTARY ENVID: " + envid``
                          (never reverse-mapped into an MTS identifier)
X.400 -> SMTP (§3.2)
both report bits 0        NOTIFY=NEVER
originator-report         NOTIFY=SUCCESS,FAILURE (see :func:`indicators_to_notify`)
otherwise                 NOTIFY=FAILURE
originally-intended-rcpt  ORCPT=x400;<std-or> (R-14)
message identifier        ENVID=``"X400-MTS-Identifier: " + mts-msg-id``
content-return-request 0  RET=HDRS (1: RET=FULL)
========================  ========================================================

RET on the way in is not mapped: RFC 2156 §5.2 (H-12) makes the gateway request return of
content always, and RFC 3461 §5.2.4(e) makes RET nonbinding when gatewaying (see
:func:`ret_to_content_return`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bridge.convert.result import Defect
from bridge.errors import BridgeError, SMTPReply, X400Diagnostic
from bridge.mapping.address import AddressMapper, Role
from bridge.model.common import (
    Extension,
    MTSIdentifier,
    StandardExtension,
    find_extension,
)
from bridge.model.envelope import (
    PerMessageIndicators,
    PerRecipientIndicators,
    Recipient,
    Redirection,
    RedirectionReason,
)
from bridge.model.oraddress import ORAddress, ORName

__all__ = [
    "ENVID_PREFIX", "MTSID_PREFIX", "DefectSink", "NotaryError", "SmtpEnvelope",
    "SmtpRecipient", "defect_sink", "envid_for", "envid_to_correlator", "format_notify",
    "format_orcpt", "gateway_report_duty", "indicators_to_notify", "notify_to_indicators",
    "orcpt_for", "orcpt_to_redirection", "originally_intended", "parse_notify",
    "parse_orcpt", "redirection_extension", "ret_for", "ret_to_content_return",
    "smtp_from_x400", "xtext_decode", "xtext_encode",
]

ENVID_PREFIX = "SMTP/NOTARY ENVID: "  # RFC 2156 App A §3.1
MTSID_PREFIX = "X400-MTS-Identifier: "  # RFC 2156 App A §3.2
NEVER = "NEVER"
NOTIFY_ORDER = ("SUCCESS", "FAILURE", "DELAY")  # RFC 3461 §4.1 notify-list-element
RET_VALUES = frozenset({"FULL", "HDRS"})  # RFC 3461 §4.3
UB_ENVID = 100  # RFC 3461 §4.4 / §5.4(a)
UB_ORCPT = 500  # RFC 3461 §4.2 / §5.4(c): the whole parameter value
ORCPT_X400, ORCPT_RFC822 = "x400", "rfc822"  # IANA address types (RFC 3461 §4.2, R-14)
RULE_IN = "RFC 2156 App A §3.1 (R-11)"
RULE_OUT = "RFC 2156 App A §3.2 (R-11)"

_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")  # RFC 822 atom (addr-type)
_HEXCHAR = re.compile(r"\+([0-9A-Fa-f]{2})")
_REPORT_BITS = (PerRecipientIndicators.ORIGINATOR_REPORT
                | PerRecipientIndicators.ORIGINATOR_NON_DELIVERY_REPORT)

DefectSink = Callable[[str, str, str], None]  # (kind, detail, rule): a non-lossy defect


class NotaryError(BridgeError):
    """A malformed DSN parameter (RFC 3461 §4): "501 syntax error in parameters or
    arguments" (§4.5), RFC 3463 5.5.4 invalid command arguments."""

    smtp = SMTPReply(code=501, enhanced="5.5.4", text="Invalid DSN parameter")
    x400 = X400Diagnostic(reason=1)


# ------------------------------------------------------------------------------ xtext (§4)

def _printable(text: str) -> bool:
    """RFC 3461 §4.2 / §4.4: printable (graphic and white space) US-ASCII."""
    return all(" " <= c <= "~" or c == "\t" for c in text)


def xtext_encode(value: str | bytes) -> str:
    """RFC 3461 §4 xtext: every octet outside "!".."~", and "+" and "=", as ``+XX``
    (upper-case hex).  A ``str`` is encoded as UTF-8 octets (RFC 3461 wants printable
    US-ASCII for ENVID and ORCPT; the dataclasses enforce that)."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    return "".join(chr(b) if 0x21 <= b <= 0x7E and b not in (0x2B, 0x3D) else f"+{b:02X}"
                   for b in data)


def xtext_decode(text: str) -> str:
    """RFC 3461 §4 xtext -> the value.  Raises :class:`NotaryError` for a character that is
    not an ``xchar`` or a ``+`` without two hex digits.  Lower-case hex digits are accepted
    (the ABNF asks for upper case; robustness principle)."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "+":
            m = _HEXCHAR.match(text, i)
            if m is None:
                raise NotaryError(f"xtext: '+' not followed by two hex digits in {text!r}")
            out.append(int(m[1], 16))
            i += 3
            continue
        if not "!" <= c <= "~" or c == "=":
            raise NotaryError(f"xtext: character {c!r} must be a hexchar (RFC 3461 §4)")
        out.append(ord(c))
        i += 1
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotaryError(f"xtext: not UTF-8/US-ASCII octets: {text!r}") from exc


# ------------------------------------------------------------------ NOTIFY, ORCPT (§4.1, §4.2)

def parse_notify(value: str) -> frozenset[str]:
    """RFC 3461 §4.1 ``notify-esmtp-value = "NEVER" / 1#notify-list-element``, any case."""
    words = [w.strip().upper() for w in value.split(",")]
    notify = frozenset(words)
    _check_notify(notify)
    if len(words) != len(notify):
        raise NotaryError(f"NOTIFY={value}: a keyword repeated (RFC 3461 §4.1)")
    return notify


def _check_notify(notify: frozenset[str]) -> None:
    if not notify:
        raise NotaryError("NOTIFY without a value (RFC 3461 §4.1)")
    unknown = notify - {NEVER, *NOTIFY_ORDER}
    if unknown:
        raise NotaryError(f"NOTIFY: unknown keyword(s) {', '.join(sorted(unknown))} "
                          "(RFC 3461 §4.1)")
    if NEVER in notify and len(notify) > 1:
        raise NotaryError("NOTIFY: NEVER must appear by itself (RFC 3461 §4.1 note a)")


def format_notify(notify: frozenset[str]) -> str:
    """The NOTIFY value, keywords in the RFC 3461 §4.1 order."""
    _check_notify(notify)
    return NEVER if NEVER in notify else ",".join(k for k in NOTIFY_ORDER if k in notify)


def parse_orcpt(value: str) -> tuple[str, str]:
    """RFC 3461 §4.2 ``original-recipient-address = addr-type ";" xtext`` -> (addr-type in
    lower case, decoded address)."""
    if len(value) > UB_ORCPT:
        raise NotaryError(f"ORCPT longer than {UB_ORCPT} characters (RFC 3461 §4.2)")
    kind, sep, text = value.partition(";")
    if not sep:
        raise NotaryError(f"ORCPT={value}: no ';' after the address type (RFC 3461 §4.2)")
    orcpt = (kind.lower(), xtext_decode(text))
    _check_orcpt(orcpt)
    return orcpt


def _check_orcpt(orcpt: tuple[str, str]) -> None:
    kind, address = orcpt
    if not _ATOM.fullmatch(kind):
        raise NotaryError(f"ORCPT address type {kind!r} is not an atom (RFC 3461 §4.2)")
    if not address or not _printable(address):
        raise NotaryError("ORCPT address is empty or not printable US-ASCII (RFC 3461 §4.2)")
    if len(format_orcpt(orcpt, check=False)) > UB_ORCPT:
        raise NotaryError(f"ORCPT longer than {UB_ORCPT} characters (RFC 3461 §4.2)")


def format_orcpt(orcpt: tuple[str, str], *, check: bool = True) -> str:
    """(addr-type, address) -> ``addr-type;xtext`` (RFC 3461 §4.2)."""
    if check:
        _check_orcpt(orcpt)
    return f"{orcpt[0]};{xtext_encode(orcpt[1])}"


def _params(params: Mapping[str, str | None]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for k, v in params.items():
        if k.upper() in out:
            raise NotaryError(f"{k.upper()} given twice (RFC 3461 §4.5)")
        out[k.upper()] = v
    return out


def _value(params: dict[str, str | None], key: str) -> str | None:
    if key not in params:
        return None
    v = params[key]
    if not v:
        raise NotaryError(f"{key} without a value (RFC 3461 §4)")
    return v


# ------------------------------------------------------------------------------ envelope

@dataclass(frozen=True, slots=True)
class SmtpRecipient:
    """One RCPT TO with its RFC 3461 parameters, decoded.

    ``notify``: None = no NOTIFY given, else NEVER alone or a set of SUCCESS/FAILURE/DELAY
    (upper case, §4.1).  ``orcpt``: (addr-type in lower case, the original recipient
    address after xtext decoding), §4.2.
    """

    address: str
    notify: frozenset[str] | None = None
    orcpt: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.notify is not None:
            _check_notify(self.notify)
        if self.orcpt is not None:
            _check_orcpt(self.orcpt)

    @classmethod
    def from_esmtp(cls, address: str, params: Mapping[str, str | None]) -> SmtpRecipient:
        """From the RCPT command's parameters (keyword -> raw value; others ignored)."""
        p = _params(params)
        notify, orcpt = _value(p, "NOTIFY"), _value(p, "ORCPT")
        return cls(address=address, notify=parse_notify(notify) if notify else None,
                   orcpt=parse_orcpt(orcpt) if orcpt else None)

    def esmtp_params(self) -> tuple[str, ...]:
        """The RCPT parameters, e.g. ``("NOTIFY=SUCCESS,FAILURE", "ORCPT=x400;...")``."""
        out = []
        if self.notify is not None:
            out.append(f"NOTIFY={format_notify(self.notify)}")
        if self.orcpt is not None:
            out.append(f"ORCPT={format_orcpt(self.orcpt)}")
        return tuple(out)


@dataclass(frozen=True, slots=True)
class SmtpEnvelope:
    """The SMTP envelope with RFC 3461 parameters: MAIL FROM (``""`` = ``<>``) with ``ret``
    (FULL / HDRS, §4.3) and ``envid`` (decoded, printable US-ASCII, at most 100, §4.4), and
    the recipients; ``mt_priority`` the RFC 6710 priority (-9..9) with the policy it was
    given under (§9.2, ``MIXER`` or ``STANAG4406``)."""

    mail_from: str
    recipients: tuple[SmtpRecipient, ...] = ()
    ret: str | None = None
    envid: str | None = None
    mt_priority: int | None = None
    priority_policy: str = "MIXER"

    def __post_init__(self) -> None:
        if self.mt_priority is not None and not -9 <= self.mt_priority <= 9:
            raise NotaryError(f"MT-PRIORITY={self.mt_priority}: -9 to 9 (RFC 6710 §3)")
        if self.ret is not None and self.ret not in RET_VALUES:
            raise NotaryError(f"RET={self.ret}: FULL or HDRS (RFC 3461 §4.3)")
        if self.envid is not None and (
                not self.envid or len(self.envid) > UB_ENVID or not _printable(self.envid)):
            raise NotaryError("ENVID: 1 to 100 printable US-ASCII characters (RFC 3461 §4.4)")

    @classmethod
    def from_esmtp(cls, mail_from: str, params: Mapping[str, str | None],
                   recipients: Iterable[SmtpRecipient] = ()) -> SmtpEnvelope:
        """From the MAIL command's parameters (keyword -> raw value; others ignored)."""
        p = _params(params)
        ret, envid = _value(p, "RET"), _value(p, "ENVID")
        priority = _value(p, "MT-PRIORITY")
        try:
            mt_priority = int(priority) if priority else None
        except ValueError as exc:
            raise NotaryError(f"MT-PRIORITY={priority}: -9 to 9 (RFC 6710 §7)") from exc
        return cls(mail_from=mail_from, recipients=tuple(recipients),
                   ret=ret.upper() if ret else None,
                   envid=xtext_decode(envid) if envid else None, mt_priority=mt_priority)

    def esmtp_params(self) -> tuple[str, ...]:
        """The MAIL parameters, e.g. ``("RET=HDRS", "ENVID=QQ314159")``."""
        out = []
        if self.ret is not None:
            out.append(f"RET={self.ret}")
        if self.envid is not None:
            out.append(f"ENVID={xtext_encode(self.envid)}")
        if self.mt_priority is not None:
            out.append(f"MT-PRIORITY={self.mt_priority}")
        return tuple(out)

    def recipient(self, address: str) -> SmtpRecipient | None:
        """The recipient with this address: exact, else ignoring case (a path's ``<>``
        stripped)."""
        address = _bare(address)
        for r in self.recipients:
            if _bare(r.address) == address:
                return r
        for r in self.recipients:
            if _bare(r.address).lower() == address.lower():
                return r
        return None


def _bare(path: str) -> str:
    path = path.strip()
    return path[1:-1].strip() if path.startswith("<") and path.endswith(">") else path


# ============================================================ SMTP -> X.400 (App A §3.1)

def notify_to_indicators(notify: frozenset[str] | None, *,
                         null_path: bool = False) -> PerRecipientIndicators:
    """App A §3.1 NOTIFY (R-11, A-25): the per-recipient-indicators of a recipient the
    gateway passes on (responsibility set).

    NEVER -> both originator bits 0; SUCCESS present -> originator-report; otherwise (also
    no NOTIFY, RFC 3461 §4.1: FAILURE) -> originator-non-delivery-report.  The originating-MTA
    bits ask for at least as much as the originator (X.411 §12.2.1.1.1.16: one of them is
    always 1), so that the reports reach the gateway and become DSNs (RFC 3461 §5.2.4(a)).
    A null reverse-path gets no originator bits whatever NOTIFY says: no report may go
    back to ``<>`` (RFC 5321 §4.5.5) -- the caller records that.
    """
    ind = (PerRecipientIndicators.RESPONSIBILITY
           | PerRecipientIndicators.ORIGINATING_MTA_NON_DELIVERY_REPORT)
    if null_path or (notify is not None and NEVER in notify):
        return ind
    if notify is not None and "SUCCESS" in notify:
        return (ind | PerRecipientIndicators.ORIGINATING_MTA_REPORT
                | PerRecipientIndicators.ORIGINATOR_REPORT)
    return ind | PerRecipientIndicators.ORIGINATOR_NON_DELIVERY_REPORT


def orcpt_to_redirection(orcpt: tuple[str, str], actual: ORName, mapper: AddressMapper,
                         when: datetime, defect: DefectSink) -> Redirection | None:
    """App A §3.1 ORCPT (R-11): an ORCPT of type x400 (RFC 2156 std-or, R-14) or rfc822 as
    a redirection-history element -- the original recipient, dated ``when`` (the conversion
    time), reason alias.  None when the ORCPT names the recipient itself (RFC 3461 §4.2:
    the usual case, no redirection happened) or cannot be mapped (a defect)."""
    kind, address = orcpt
    try:
        if kind == ORCPT_X400:
            intended = ORName(address=ORAddress.parse(
                re.sub(r"\s*\([^()]*\)\s*\Z", "", address.strip())))  # a §5.3.8.1 DN comment
        elif kind == ORCPT_RFC822:
            intended = ORName(address=mapper.to_x400(_bare(address), Role.SMTP_RECIPIENT)
                              .address)
        else:
            defect("notary", f"ORCPT of type {kind!r} not mapped (only x400 and rfc822)",
                   RULE_IN)
            return None
    except BridgeError as exc:
        defect("notary", f"ORCPT {kind};{address} cannot be mapped: {exc}", RULE_IN)
        return None
    if intended.address == actual.address:
        return None
    return Redirection(intended_recipient=intended, time=when,
                       reason=RedirectionReason.ALIAS)


def redirection_extension(history: Sequence[Redirection]) -> Extension:
    """X.411 per-recipient standard extension 25, redirection-history."""
    return Extension(type=StandardExtension.REDIRECTION_HISTORY, value=tuple(history))


def envid_to_correlator(envid: str) -> str:
    """App A §3.1 ENVID (R-11): the content-correlator (IA5) ``"SMTP/NOTARY ENVID: " +
    envid``.  An ENVID that starts ``X400-MTS-Identifier: `` is *not* turned back into an
    MTS identifier (it may have been expanded by a list); it is carried like any other."""
    return ENVID_PREFIX + envid


def ret_to_content_return(ret: str | None, defect: DefectSink) -> bool:
    """RET -> content-return-request: always True.  RFC 2156 App A §3.1 has no RET mapping
    and §5.2 (H-12) requires the gateway to request return of content; RFC 3461 §5.2.4(e)
    says RET is nonbinding when gatewaying.  RET=HDRS is recorded as not honoured."""
    if ret == "HDRS":
        defect("notary", "RET=HDRS not honoured: content-return-request is requested "
               "(RFC 2156 §5.2, H-12)", "RFC 3461 §5.2.4(e) (R-13)")
    return True


# ============================================================ X.400 -> SMTP (App A §3.2)

def indicators_to_notify(indicators: PerRecipientIndicators) -> frozenset[str]:
    """App A §3.2 NOTIFY (R-11): both originator bits 0 -> NEVER; the report bit ->
    SUCCESS; otherwise FAILURE.

    X.411's ``report`` asks for delivery *and* non-delivery reports, so the report bit gives
    ``SUCCESS,FAILURE`` (NOTIFY=SUCCESS alone would suppress the failure DSN the X.400
    originator asked for); App A §3.1 maps both back to the report bit.
    """
    if indicators & PerRecipientIndicators.ORIGINATOR_REPORT:
        return frozenset({"SUCCESS", "FAILURE"})
    if indicators & PerRecipientIndicators.ORIGINATOR_NON_DELIVERY_REPORT:
        return frozenset({"FAILURE"})
    return frozenset({NEVER})


def gateway_report_duty(indicators: PerRecipientIndicators) -> frozenset[str]:
    """App A §3.2: with NOTIFY set the gateway does not generate a report itself, "unless
    ... the originating MTA service report requirements differ from the user
    requirements": the events (``SUCCESS`` = delivery, ``FAILURE`` = non-delivery) for
    which the gateway must report to the originating MTA because no DSN will come back."""
    notify = indicators_to_notify(indicators)
    duty = set()
    if indicators & PerRecipientIndicators.ORIGINATING_MTA_REPORT and "SUCCESS" not in notify:
        duty.add("SUCCESS")
    if indicators & (PerRecipientIndicators.ORIGINATING_MTA_REPORT
                     | PerRecipientIndicators.ORIGINATING_MTA_NON_DELIVERY_REPORT) and (
            "FAILURE" not in notify):
        duty.add("FAILURE")
    return frozenset(duty)


def originally_intended(recipient: Recipient) -> ORName | None:
    """The originally-intended-recipient-name: the intended recipient of the first element
    of the recipient's redirection history (X.411 standard extension 25)."""
    ext = find_extension(recipient.extensions, StandardExtension.REDIRECTION_HISTORY)
    if ext is None or not isinstance(ext.value, tuple) or not ext.value:
        return None
    first = ext.value[0]
    return first.intended_recipient if isinstance(first, Redirection) else None


def orcpt_for(recipient: Recipient, defect: DefectSink) -> tuple[str, str] | None:
    """App A §3.2 ORCPT (R-11, R-14): ``x400`` with the originally-intended recipient's
    std-or (RFC 2156 §4.1.3; xtext-encoded on the wire).  Omitted (a defect) when the
    std-or is not printable US-ASCII or too long (RFC 3461 §4.2)."""
    name = originally_intended(recipient)
    if name is None:
        return None
    orcpt = (ORCPT_X400, str(name.address))
    try:
        _check_orcpt(orcpt)
    except NotaryError as exc:
        defect("notary", f"ORCPT for {name.address} omitted: {exc}", RULE_OUT)
        return None
    return orcpt


def envid_for(identifier: MTSIdentifier, defect: DefectSink) -> str | None:
    """App A §3.2 ENVID (R-11): ``"X400-MTS-Identifier: " + mts-msg-id`` (§5.3.6), omitted
    (a defect) when longer than 100 or not printable US-ASCII (RFC 3461 §4.4)."""
    envid = MTSID_PREFIX + str(identifier)
    if len(envid) > UB_ENVID or not _printable(envid):
        defect("notary", f"ENVID omitted: {envid!r} is not 1..100 printable US-ASCII "
               "characters", "RFC 3461 §4.4")
        return None
    return envid


def ret_for(indicators: PerMessageIndicators) -> str:
    """App A §3.2 RET (R-11): content-return-request false -> HDRS; true -> FULL (RFC 3461
    §4.3)."""
    return "FULL" if indicators & PerMessageIndicators.CONTENT_RETURN_REQUEST else "HDRS"


def smtp_from_x400(mail_from: str, recipients: Sequence[tuple[Recipient, str]],
                   identifier: MTSIdentifier, indicators: PerMessageIndicators,
                   defect: DefectSink) -> SmtpEnvelope:
    """App A §3.2: the NOTARY parameters for the SMTP client -- ``recipients`` are the
    responsible X.400 recipients with their RCPT TO address (A-26).  Two X.400 recipients
    with one address: the first one's parameters are used (a defect if they differ)."""
    out: dict[str, SmtpRecipient] = {}
    for r, address in recipients:
        rcpt = SmtpRecipient(address=address, notify=indicators_to_notify(r.indicators),
                             orcpt=orcpt_for(r, defect))
        seen = out.get(address)
        if seen is None:
            out[address] = rcpt
        elif seen != rcpt:
            defect("notary", f"recipients mapped to {address} differ in NOTIFY/ORCPT: the "
                   "first one's are used", RULE_OUT)
    return SmtpEnvelope(mail_from=mail_from, recipients=tuple(out.values()),
                        ret=ret_for(indicators), envid=envid_for(identifier, defect))


def defect_sink(defects: list[Defect]) -> DefectSink:
    """A :data:`DefectSink` appending non-lossy defects to ``defects``."""
    return lambda kind, detail, rule: defects.append(Defect(kind, detail, rule, lossy=False))


def notification_envelope(rcpt_to: tuple[str, ...]) -> SmtpEnvelope:
    """The SMTP envelope of a gateway-generated DSN (RFC 3461 §6.1, R-1): the null
    reverse-path, NOTIFY=NEVER for every recipient, no RET and no ENVID."""
    never = frozenset({"NEVER"})
    return SmtpEnvelope(mail_from="", recipients=tuple(
        SmtpRecipient(address=a, notify=never) for a in rcpt_to))

"""Per-peer transfer profiles: what an MTS-APDU looks like when it goes to one peer MTA.

Old MTAs differ in what they take (x400-samples/pp: PP 6.0 refuses the ExtensionField
encoding of X.411 (1992) and then crashes).  A :class:`PeerProfile` holds the few per-peer
differences that matter, and :func:`prepare` applies them to one APDU just before transfer:

* ``x411_edition`` 1988: ExtensionField types in the 1988 EXTENSION-macro form (``a0 03 02 01
  26``, :data:`bridge.codec.extensions.ExtensionForm`), and the standard extensions X.411
  (1988) does not define (numbers above 38: reporting-MTA-name, blind-copy-recipients, ...)
  left out when not critical;
* ``envelope_extensions`` false: no envelope extensions at all unless critical (for MTAs that
  cannot parse any);
* ``same_domain``: internal trace information (X.411 §12.2.1.1.1.13, standard extension 38)
  is kept, with our MTA's element added, only for a peer in our management domain; X.411
  says it is removed when the message leaves the domain (RFC 2156 §5.1.6 leaves this
  stripping to "the associated X.400 MTA", which is us);
* ``mixer_eit`` false: the RFC 2156 App D pseudo-EIT ``eit-mixer`` is left out of the
  envelope's original-encoded-information-types and of the converted EITs of the trace.
  RFC 2156 §5.1.5 puts it in both; an MTA older than RFC 2156 that must convert the content
  (PP 6.0 delivering to a local user) non-delivers a message whose EITs name a type it does
  not know ("Unrecognised bodypart in message", seen live).  The price: MIXER conversions
  before this hop are no longer counted for loop detection (T-2) once the message comes back;
  the MTA names in the trace still are.
* ``security_labels`` (RFC 7444 / X.411 §9, MIL-5): ``pass`` (the default), ``require`` (a
  message or probe without a message-security-label is not transferred) or ``refuse`` (one
  with a label is not); such a message is non-delivered with X.411
  transfer-failure-for-security-reason / security-policy-violation
  (:mod:`bridge.convert.seclabel`).
* ``content`` ``"p772"`` / ``"p22"``: a military MTA gets every interpersonal message as P772;
  a peer without P772 gets no P772 message (non-delivery, RFC 6477 §6): see
  :mod:`bridge.convert.mmhs_policy`.  ``"auto"``: the content type as converted.
* ``checkpoint_size``/``window_size`` (RTSE, X.228 §7.2) live on the peer itself.

An extension that must be left out but is *critical* (for transfer or delivery) is never
dropped silently: :class:`CriticalExtensionNotAccepted` is raised, which the gateway turns into
a non-delivery (X.411 unable-to-transfer / unsupported-critical-function).  Every other
change is listed in :attr:`Prepared.notes` for the log.

Pure functions over the model and the codec; no I/O.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bridge.convert.mime_text import extension_name
from bridge.convert.mmhs_policy import ContentPolicy, apply_content_policy
from bridge.convert.seclabel import check_policy as check_label_policy
from bridge.errors import BridgeError, SMTPReply, X400Diagnostic
from bridge.model.apdu import APDU, Message, Probe
from bridge.model.common import (
    Criticality,
    EncodedInformationTypes,
    Extension,
    StandardExtension,
    TraceElement,
)
from bridge.model.envelope import Recipient
from bridge.model.report import Report
from bridge.model.seclabel import LabelPolicy

Edition = Literal[1988, 1992]

#: the last standard extension X.411 (1988) defines: internal-trace-information (38);
#: 39.. came with X.411 (1992) and X.420 (1992/1996)
LAST_1988_EXTENSION = int(StandardExtension.INTERNAL_TRACE_INFORMATION)

_CRITICAL = Criticality.FOR_TRANSFER | Criticality.FOR_DELIVERY
#: RFC 2156 App D: eit-mixer ::= {mixer-core 5}, the pseudo-EIT marking a MIXER conversion
EIT_MIXER = "1.3.6.1.7.1.3.5"


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerProfile:
    """What one peer MTA takes (docs/x400-endpoint.md, "Peer profiles").

    The defaults suit a current MTA outside our management domain: X.411 (1992) extension
    encoding, envelope extensions sent, internal trace removed.
    """

    x411_edition: Edition = 1992
    envelope_extensions: bool = True
    same_domain: bool = False
    mixer_eit: bool = True
    content: ContentPolicy = "auto"
    security_labels: LabelPolicy = "pass"


DEFAULT_PROFILE = PeerProfile()


class CriticalExtensionNotAccepted(BridgeError):
    """A critical extension the peer cannot take (X.411 §9.1: an MTA that does not support a
    critical-for-transfer extension must not transfer the message): non-delivery with
    unable-to-transfer (1) / unsupported-critical-function (18)."""

    smtp = SMTPReply(code=554, enhanced="5.3.3", text="Critical X.400 function not supported")
    x400 = X400Diagnostic(reason=1, diagnostic=18)


@dataclass(frozen=True, slots=True)
class Prepared:
    """The APDU for the peer and what was changed on the way (for the log)."""

    apdu: APDU
    notes: tuple[str, ...] = ()


def _filter(exts: tuple[Extension, ...], profile: PeerProfile, where: str,
            notes: list[str], *, envelope: bool) -> tuple[Extension, ...]:
    kept: list[Extension] = []
    for ext in exts:
        reason = None
        if ext.type == StandardExtension.INTERNAL_TRACE_INFORMATION and not profile.same_domain:
            notes.append(f"internal trace removed from the {where}: the peer is outside our "
                         "management domain (X.411 §12.2.1.1.1.13)")
            continue
        if envelope and not profile.envelope_extensions:
            reason = "the peer takes no envelope extensions"
        elif profile.x411_edition == 1988 and isinstance(ext.type, int) and \
                ext.type > LAST_1988_EXTENSION:
            reason = "X.411 (1988) does not define it"
        if reason is None:
            kept.append(ext)
            continue
        if ext.criticality & _CRITICAL:
            raise CriticalExtensionNotAccepted(
                f"{extension_name(ext)} in the {where} is critical and {reason}")
        notes.append(f"{extension_name(ext)} left out of the {where}: {reason}")
    return tuple(kept)


def _without_mixer(eits: EncodedInformationTypes | None,
                   notes: list[str]) -> EncodedInformationTypes | None:
    if eits is None or EIT_MIXER not in eits.extended:
        return eits
    notes.append("eit-mixer left out of the original EITs (the peer does not know it)")
    eits = dataclasses.replace(eits, extended=tuple(o for o in eits.extended
                                                    if o != EIT_MIXER))
    return eits if eits.builtin or eits.extended or eits.g3_facsimile or eits.teletex \
        else None


def _trace_without_mixer(trace: tuple[TraceElement, ...],
                         notes: list[str]) -> tuple[TraceElement, ...]:
    out = tuple(dataclasses.replace(t, converted_eits=_without_mixer(t.converted_eits, []))
                for t in trace)
    if out != trace:
        notes.append("eit-mixer left out of the converted EITs of the trace")
    return out


def _own_trace(exts: tuple[Extension, ...], mta_name: str, now: datetime,
               external: tuple[TraceElement, ...], notes: list[str]) -> tuple[Extension, ...]:
    """X.411 §12.2.1.1.1.13: each MTA of the domain adds its element when it relays."""
    out = list(exts)
    for i, ext in enumerate(out):
        if ext.type != StandardExtension.INTERNAL_TRACE_INFORMATION or \
                not isinstance(ext.value, tuple):
            continue
        trace: tuple[TraceElement, ...] = ext.value
        if trace and trace[-1].mta_name == mta_name:
            return exts                                # our element is the last already
        domain = external[-1].domain if external else (trace[-1].domain if trace else None)
        if domain is None:
            return exts
        out[i] = dataclasses.replace(ext, value=trace + (
            TraceElement(domain=domain, arrival_time=now, mta_name=mta_name),))
        notes.append(f"internal trace element of {mta_name} added")
        return tuple(out)
    return exts


def _with_extensions(recipient: Recipient, extensions: tuple[Extension, ...]) -> Recipient:
    """``recipient`` with ``extensions``: itself when they are what it has (frozen)."""
    if extensions == recipient.extensions:
        return recipient
    return dataclasses.replace(recipient, extensions=extensions)


def prepare(apdu: APDU, profile: PeerProfile, *, mta_name: str, now: datetime) -> Prepared:
    """``apdu`` as it goes to a peer with ``profile``; raises
    :class:`CriticalExtensionNotAccepted` when a critical extension cannot go."""
    notes: list[str] = []
    if isinstance(apdu, Message) and profile.content != "auto":
        apdu, changes = apply_content_policy(apdu, profile.content, now)
        notes += changes
    if isinstance(apdu, (Message, Probe)):
        env = apdu.envelope
        check_label_policy(env.extensions, profile.security_labels, "the peer")
        if not profile.mixer_eit:
            env = dataclasses.replace(env, original_eits=_without_mixer(env.original_eits,
                                                                         notes),
                                      trace=_trace_without_mixer(env.trace, notes))
        exts = _filter(env.extensions, profile, "envelope", notes, envelope=True)
        if profile.same_domain:
            exts = _own_trace(exts, mta_name, now, env.trace, notes)
        recipients = tuple(_with_extensions(r, _filter(
            r.extensions, profile, f"recipient {r.number} fields", notes, envelope=True))
            for r in env.recipients)
        if exts == env.extensions and recipients == env.recipients:
            new_env = env                   # nothing filtered: the same (frozen) objects
        else:
            new_env = dataclasses.replace(env, extensions=exts, recipients=recipients)
        if new_env is apdu.envelope:
            return Prepared(apdu, tuple(notes))
        return Prepared(dataclasses.replace(apdu, envelope=new_env), tuple(notes))
    assert isinstance(apdu, Report)
    # a link's label policy covers its reports too: a report carries its subject's label
    check_label_policy(apdu.envelope_extensions + apdu.extensions, profile.security_labels,
                       "the peer", what="report")
    if not profile.mixer_eit:
        apdu = dataclasses.replace(apdu, original_eits=_without_mixer(apdu.original_eits, notes),
                                   trace=_trace_without_mixer(apdu.trace, notes))
    env_exts = _filter(apdu.envelope_extensions, profile, "report envelope", notes,
                       envelope=True)
    if profile.same_domain:
        env_exts = _own_trace(env_exts, mta_name, now, apdu.trace, notes)
    content_exts = _filter(apdu.extensions, profile, "report content", notes, envelope=False)
    reported = tuple(dataclasses.replace(
        r, extensions=_filter(r.extensions, profile, "reported recipient", notes,
                              envelope=False)) for r in apdu.recipients)
    return Prepared(dataclasses.replace(apdu, envelope_extensions=env_exts,
                                        extensions=content_exts, recipients=reported),
                    tuple(notes))


def encode_for(apdu: APDU, profile: PeerProfile, *, mta_name: str,
               now: datetime) -> tuple[bytes, tuple[str, ...]]:
    """:func:`prepare`, then BER in the peer's extension form."""
    from bridge.codec import encode_apdu

    prepared = prepare(apdu, profile, mta_name=mta_name, now=now)
    form = "1988" if profile.x411_edition == 1988 else "1992"
    return encode_apdu(prepared.apdu, extension_form=form), prepared.notes


def reencode_for(data: bytes, profile: PeerProfile, *, mta_name: str,
                 now: datetime) -> tuple[bytes, tuple[str, ...]]:
    """An already encoded MTS-APDU as it goes to the peer (decoded, prepared, encoded)."""
    from bridge.codec import decode_apdu

    return encode_for(decode_apdu(data), profile, mta_name=mta_name, now=now)


__all__ = ["DEFAULT_PROFILE", "CriticalExtensionNotAccepted", "Edition", "PeerProfile",
           "Prepared", "encode_for", "prepare", "reencode_for"]

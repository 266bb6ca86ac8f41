"""RFC 2156 §4.7.3 IPM identifiers <-> RFC 822 msg-ids, and §4.6.3 MTS identifiers.

The mapping is purely algorithmic (no tables), reversible and symmetrical over repeated
crossings:

* 822 msg-id -> IPMIdentifier: user omitted, user-relative-identifier = the msg-id without
  ``<>``, ps-encoded (§3.4), at most 64 characters (§4.7.3.1);
* IPMIdentifier -> msg-id: ``<"urid*std-or"@MHS>`` (§4.7.3.2); an identifier that came from
  822 (no user, and the urid decodes to a msg-id) goes back unchanged (§4.7.3.4);
* phrases in In-Reply-To/References (§4.7.3.5).
"""

from __future__ import annotations

import re

from bridge.errors import AddressSyntaxError
from bridge.mapping.psencode import ps_decode, ps_encode
from bridge.mapping.rfc822 import quote_local
from bridge.model.ipm import IPMIdentifier
from bridge.model.oraddress import ORName
from bridge.model.ortext import ORAddressSyntaxError, is_printable, parse_or_address

UB_LOCAL_IPM_IDENTIFIER = 64  # X.420 ub-local-ipm-identifier
_MSG_ID = re.compile(r"<([^<>@\s]+)@([^<>@\s]+)>\Z")
_QUOTED_LOCAL = re.compile(r'<"((?:[^"\\]|\\.)*)"@MHS>\Z', re.I)


def is_msg_id(text: str) -> bool:
    """Loose RFC 5322 msg-id test: ``<left@right>`` without spaces."""
    return bool(_MSG_ID.match(text.strip()))


def msgid_to_ipm_id(msg_id: str) -> IPMIdentifier:
    """§4.7.3.3: an 822 msg-id (or, §4.7.3.5, a phrase) -> IPMIdentifier.

    ``<"147*/S=Dietrich/O=Siemens/ADMD=DBP/C=DE/"@MHS>`` was X.400 generated and gives back
    urid 147 and the user's O/R name; anything else is 822 generated.
    """
    text = msg_id.strip()
    local = _mhs_local(text)
    if local is not None and "*" in local:
        urid, _, std_or = local.partition("*")
        if is_printable(urid):
            try:
                user = ORName(address=parse_or_address(std_or)) if std_or else None
            except ORAddressSyntaxError:
                user = None
            else:
                return IPMIdentifier(user=user, local=urid)
    body = text[1:-1] if text.startswith("<") and text.endswith(">") else text
    return IPMIdentifier(local=ps_encode(body))


def _mhs_local(text: str) -> str | None:
    m = _QUOTED_LOCAL.match(text)
    if m:
        return re.sub(r"\\(.)", r"\1", m.group(1))
    m = _MSG_ID.match(text)
    if m and m.group(2).upper() == "MHS":
        return m.group(1)
    return None


def ipm_id_to_msgid(ipm_id: IPMIdentifier, *, phrase_allowed: bool = False) -> str:
    """§4.7.3.4: IPMIdentifier -> 822 msg-id (or, with ``phrase_allowed`` for In-Reply-To and
    References, a phrase when the urid is not a msg-id and there is no user, §4.7.3.5)."""
    if ipm_id.user is None:
        try:
            decoded = ps_decode(ipm_id.local)
        except AddressSyntaxError:
            decoded = None
        if decoded is not None and is_msg_id(f"<{decoded}>"):
            return f"<{decoded}>"
        if phrase_allowed and ipm_id.local:
            return ipm_id.local
    std_or = str(ipm_id.user) if ipm_id.user is not None else ""
    # §4.7.3.4: "Use 822.quoted-string if necessary" -- a dot-atom stays bare (as in the
    # §5.3.4.2 example <PC1000-910530172027-57D8*@MHS>), anything else is quoted
    return f"<{quote_local(ipm_id.local + '*' + std_or)}@MHS>"


def truncate_local(urid: str) -> tuple[str, bool]:
    """Apply the X.420 upper bound of 64 to a user-relative identifier (RFC 2156 §5.1.3:
    truncate); returns the value and whether it was cut."""
    if len(urid) <= UB_LOCAL_IPM_IDENTIFIER:
        return urid, False
    return urid[:UB_LOCAL_IPM_IDENTIFIER], True

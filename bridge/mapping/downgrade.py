"""RFC 1328: O/R addresses and descriptors from X.400(1988) to X.400(1984).

* §3.2 (and RFC 2156 App B): a non-teletex common name becomes the domain-defined attribute
  ``Common`` (``CN=Postmaster; O=A`` -> ``DD.Common=Postmaster; O=A``).
* §3.1 "General Approach": any other address that uses 88-only features (attributes outside
  the 84 set, teletex values -- or a CN that finds no free DDA) is carried under the gateway's
  own O/R address in the DDA ``X400-88`` holding its std-or encoding (RFC 2156 §4.1.3),
  ps-encoded (RFC 2156 §3.4, which replaced RFC 1327 §3.4); a value longer than 128 characters
  continues in ``X400-C1``, ``X400-C2``, ``X400-C3``.  :func:`decode_x400_88` is the reverse.
* §5 step 3: a directory name has no place in an 84 O/R name; its "User Friendly Name" text
  (Kille RN/90/29, later RFC 1781) is appended to the free-form name in round brackets.

Pure functions over the model: no tables, no configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bridge.errors import AddressSyntaxError, MappingError, X400Diagnostic
from bridge.mapping.psencode import ps_decode, ps_encode
from bridge.model.ipm import ORDescriptor
from bridge.model.oraddress import DirectoryName, DomainDefinedAttribute, ORAddress, ORName
from bridge.model.ortext import ORAddressSyntaxError, format_std_or, parse_or_address

#: RFC 1328 §3.1: the DDA and its three overflow DDAs, in order
X400_88_TYPES = ("X400-88", "X400-C1", "X400-C2", "X400-C3")
#: X.411 ub-domain-defined-attribute-value-length (RFC 1328 §3.1: "longer than 128")
UB_DDA_VALUE = 128
#: X.411 ub-domain-defined-attributes
UB_DDAS = 4
#: X.420 ub-free-form-name
UB_FREE_FORM_NAME = 64
#: RFC 1328 §3.2 / RFC 2156 App B: the DDA a common name becomes
COMMON = "Common"
#: X.411 unable-to-transfer (1) / unable-to-downgrade (47)
_UNABLE_TO_DOWNGRADE = X400Diagnostic(reason=1, diagnostic=47)


@dataclass(frozen=True, slots=True, kw_only=True)
class Downgraded:
    """An address as sent to an X.400(1984) peer and the RFC 1328 rule that made it."""

    address: ORAddress
    rule: str  # "" when the address went unchanged
    text: str = ""


def is_1984_form(a: ORAddress) -> bool:
    """RFC 1328 §3 / RFC 2156 App B: only the attributes X.400(1984) has, no teletex values.
    A non-teletex common name counts as 84 (it becomes the DDA ``Common``, §3.2)."""
    return (not a.postal and a.extended_network_address is None and a.terminal_type is None
            and not a.universal and not a.unknown and a.teletex_common_name is None
            and a.teletex_organization is None and a.teletex_personal_name is None
            and not a.teletex_org_units and not a.teletex_ddas)


def encode_x400_88(addr: ORAddress, gateway: ORAddress) -> ORAddress:
    """RFC 1328 §3.1: ``addr`` as the DDA ``X400-88`` (+ ``X400-C1..C3`` past 128 characters)
    under ``gateway``, the std-or ps-encoded.  MappingError (unable-to-downgrade) when the
    text needs more than four DDAs or the gateway address leaves no room for them."""
    text = ps_encode(format_std_or(addr))
    chunks = [text[i : i + UB_DDA_VALUE] for i in range(0, len(text), UB_DDA_VALUE)]
    if len(chunks) > len(X400_88_TYPES):
        raise MappingError(f"{addr}: std-or of {len(text)} characters does not fit "
                           f"{len(X400_88_TYPES)} X400-88 attributes (RFC 1328 §3.1)",
                           address=str(addr), x400=_UNABLE_TO_DOWNGRADE)
    base = _without_x400_88(gateway)
    if not is_1984_form(base) or base.common_name is not None:
        raise MappingError(f"gateway O/R address {gateway} is not an X.400(1984) address",
                           address=str(addr), x400=_UNABLE_TO_DOWNGRADE)
    ddas = base.ddas + tuple(DomainDefinedAttribute(type=t, value=v)
                             for t, v in zip(X400_88_TYPES, chunks, strict=False))
    if len(ddas) > UB_DDAS:
        raise MappingError(f"{addr}: no room for {len(chunks)} X400-88 attributes under the "
                           f"gateway address {gateway} (X.411 ub-domain-defined-attributes)",
                           address=str(addr), x400=_UNABLE_TO_DOWNGRADE)
    return replace(base, ddas=ddas)


def decode_x400_88(addr: ORAddress) -> ORAddress | None:
    """RFC 1328 §3.1 reverse: the X.400(1988) address an ``X400-88`` DDA (with its overflow
    ``X400-C1..C3``) carries, or None when ``addr`` has none.  Types are matched
    case-independently; a value that is not a ps-encoded std-or is a MappingError."""
    by_type = {d.type.upper(): d.value for d in addr.ddas}
    if X400_88_TYPES[0] not in by_type:
        return None
    text = "".join(by_type.get(t, "") for t in X400_88_TYPES)
    try:
        return parse_or_address(ps_decode(text))
    except (AddressSyntaxError, ORAddressSyntaxError) as exc:
        raise MappingError(f"X400-88 attribute {text!r} holds no O/R address: {exc}",
                           address=str(addr), x400=X400Diagnostic(reason=1, diagnostic=11)
                           ) from None


def downgrade_address(addr: ORAddress, gateway: ORAddress) -> Downgraded:
    """RFC 1328 §3: ``addr`` for an X.400(1984) peer.  An 84 address is unchanged but for its
    common name (§3.2, DDA ``Common``); anything else -- or a CN with no free DDA -- goes in
    ``X400-88`` under ``gateway`` (§3.1)."""
    if is_1984_form(addr):
        if addr.common_name is None:
            return Downgraded(address=addr, rule="")
        ddas = addr.ddas + (DomainDefinedAttribute(type=COMMON, value=addr.common_name),)
        if len(ddas) <= UB_DDAS:
            return Downgraded(address=replace(addr, common_name=None, ddas=ddas),
                              rule="RFC 1328 §3.2",
                              text="common name as DDA \"Common\" for an X.400(1984) peer")
    return Downgraded(address=encode_x400_88(addr, gateway), rule="RFC 1328 §3.1",
                      text="88-only address as DDA \"X400-88\" under the gateway's O/R "
                      "address")


def upgrade_address(addr: ORAddress) -> ORAddress:
    """The reverse for an address from an X.400(1984) peer: the ``X400-88`` content when
    present (§3.1), else ``addr``.  (``Common`` stays a DDA: §3.2 leaves its reverse to the
    88 MTAs and UAs, and the gateway cannot always tell.)"""
    inner = decode_x400_88(addr)
    return addr if inner is None else inner


# ------------------------------------------------------------------ directory names (§5.3)

def ufn(dn: DirectoryName) -> str:
    """RFC 1328 §5 step 3: the User Friendly Name of a distinguished name -- the attribute
    values only, least significant RDN first, separated by ", " (``Steve Hardcastle-Kille,
    Computer Science, University College London, GB``); the values of a multi-valued RDN
    joined by " + ".  A value the codec could not read as a string is shown as ``#`` + BER
    hex (the RFC 1485 form)."""
    return ", ".join(
        " + ".join(ava.text if ava.text is not None else "#" + ava.value.ber.hex()
                   for ava in rdn)
        for rdn in reversed(dn.rdns))


def downgrade_descriptor(d: ORDescriptor, gateway: ORAddress) -> tuple[ORDescriptor, bool]:
    """RFC 1328 §5 steps 2-3: the formal name's address downgraded (§3) and its directory
    name, which an 84 O/R name cannot hold, appended as ``(UFN)`` to the free-form name.
    The flag is True when the free-form name had to be cut to ub-free-form-name (64)."""
    name = d.formal_name
    if name is None:
        return d, False
    address = downgrade_address(name.address, gateway).address
    free_form = d.free_form_name
    cut = False
    if name.directory_name is not None and name.directory_name.rdns:
        shown = f"({ufn(name.directory_name)})"
        free_form = f"{free_form} {shown}" if free_form else shown
        if len(free_form) > UB_FREE_FORM_NAME:
            free_form, cut = free_form[: UB_FREE_FORM_NAME - 1] + ")", True
    return replace(d, formal_name=ORName(address=address), free_form_name=free_form), cut


def _without_x400_88(a: ORAddress) -> ORAddress:
    return replace(a, ddas=tuple(d for d in a.ddas if d.type.upper() not in X400_88_TYPES))

"""Tests of the oracle helpers (tests/oracle.py) on the fixtures made by the independent encoder.

The tests marked `oracle` need Node + tests/oracles/node_modules or tshark: they skip when those
are missing, and fail instead with X400BRIDGE_REQUIRE_ORACLES=1 (CI).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import oracle

FIXTURES = Path(__file__).resolve().parent / "data" / "wildboar"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.ber"))
KIND = {"ORName": "orname", "InformationObject": "p22", "MTS-APDU": "p1"}


def load(name: str) -> tuple[bytes, dict]:
    return (FIXTURES / f"{name}.ber").read_bytes(), json.loads(
        (FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------------
# a tiny independent TLV model, to make variants of the fixtures (indefinite lengths, bad tags)


@dataclass
class TLV:
    ident: bytes  # identifier octets
    value: bytes = b""
    children: list[TLV] | None = None  # constructed
    indefinite: bool = False

    @property
    def tag(self) -> tuple[int, int]:  # (class 0..3, number) for low tag numbers
        return self.ident[0] >> 6, self.ident[0] & 0x1F

    def encode(self) -> bytes:
        if self.children is None:
            return self.ident + _length(len(self.value)) + self.value
        body = b"".join(c.encode() for c in self.children)
        if self.indefinite:
            return self.ident + b"\x80" + body + b"\0\0"
        return self.ident + _length(len(body)) + body

    def walk(self):  # type: ignore[no-untyped-def]
        yield self
        for c in self.children or []:
            yield from c.walk()


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def parse(data: bytes) -> TLV:
    node, end = _parse(data, 0)
    assert end == len(data)
    return node


def _parse(data: bytes, pos: int) -> tuple[TLV, int]:
    start = pos
    pos += 1
    if data[start] & 0x1F == 0x1F:
        while data[pos] & 0x80:
            pos += 1
        pos += 1
    ident = data[start:pos]
    lb = data[pos]
    pos += 1
    constructed = bool(ident[0] & 0x20)
    if lb == 0x80:
        children = []
        while data[pos:pos + 2] != b"\0\0":
            child, pos = _parse(data, pos)
            children.append(child)
        return TLV(ident, children=children, indefinite=True), pos + 2
    if lb & 0x80:
        n = lb & 0x7F
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    else:
        length = lb
    end = pos + length
    if not constructed:
        return TLV(ident, value=data[pos:end]), end
    children = []
    while pos < end:
        child, pos = _parse(data, pos)
        children.append(child)
    return TLV(ident, children=children), end


def indefinite(data: bytes, skip_external: bool = False) -> bytes:
    """Every constructed element in indefinite-length form. skip_external: keep the value part
    of EXTERNAL / INSTANCE OF ({OID, [0] value}) definite (wildboar cannot decode it)."""
    tree = parse(data)

    def mark(node: TLV) -> None:
        if node.children is None:
            return
        node.indefinite = True
        kids = node.children
        for i, child in enumerate(kids):
            if (skip_external and i == 1 and kids[0].ident == b"\x06"
                    and child.ident == b"\xa0"):
                continue
            mark(child)

    mark(tree)
    return tree.encode()


def definite_ber(value: object) -> object:
    """A wildboar JSON value with every {"ber": hex} rewritten in definite-length form."""
    if isinstance(value, dict):
        if set(value) == {"ber"}:
            tree = parse(bytes.fromhex(value["ber"]))
            for node in tree.walk():
                node.indefinite = False
            return {"ber": tree.encode().hex()}
        return {k: definite_ber(v) for k, v in value.items()}
    if isinstance(value, list):
        return [definite_ber(v) for v in value]
    return value


# ------------------------------------------------------------------------------------------------
# no tool needed


def test_fixtures_present() -> None:
    assert len(NAMES) >= 6
    for name in NAMES:
        _, doc = load(name)
        assert doc["type"] in KIND
        assert doc["description"] and doc["summary"] and "wildboar" in doc


def test_tlv_model_roundtrips_fixtures() -> None:
    for name in NAMES:
        data, _ = load(name)
        assert parse(data).encode() == data
        assert parse(indefinite(data)).encode() == indefinite(data)


def test_ber_element_length() -> None:
    for name in NAMES:
        data, _ = load(name)
        assert oracle.ber_element_length(data) == len(data)
        assert oracle.ber_element_length(data + b"\0\0") == len(data)
        ind = indefinite(data)
        assert oracle.ber_element_length(ind) == len(ind)
    with pytest.raises(ValueError):
        oracle.ber_element_length(b"\x30\x05\x02\x01")


def test_write_pcap() -> None:
    pcap = oracle.write_pcap([b"\x30\x00", b"\x04\x01A"], "p22")
    magic, major, minor, _, _, snap, linktype = struct.unpack_from("<IHHiIII", pcap)
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, 148)
    assert pcap[24 + 16:24 + 18] == b"\x30\x00"
    assert len(pcap) == 24 + 16 + 2 + 16 + 3
    assert struct.unpack_from("<I", oracle.write_pcap([], "MTS-APDU"), 20)[0] == 147


@pytest.mark.parametrize("tool", ["node", "tshark"])
def test_require_skips_locally_and_fails_in_ci(tool: str, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no node, no tshark
    monkeypatch.delenv(oracle.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=tool):
        oracle.require(tool)
    monkeypatch.setenv(oracle.REQUIRE_ENV, "0")
    with pytest.raises(pytest.skip.Exception):
        oracle.require(tool)
    monkeypatch.setenv(oracle.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="required"):
        oracle.require(tool)


def test_require_node_needs_node_modules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if oracle.shutil.which("node") is None:
        pytest.skip("node not installed")  # the PATH case is covered above
    monkeypatch.setattr(oracle, "ORACLES_DIR", tmp_path)
    monkeypatch.delenv(oracle.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="node_modules"):
        oracle.require("node")
    monkeypatch.setenv(oracle.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="node_modules"):
        oracle.require("node")


def test_require_unknown_tool() -> None:
    with pytest.raises(ValueError):
        oracle.require("dumpasn1")


# ------------------------------------------------------------------------------------------------
# wildboar


@pytest.mark.oracle
@pytest.mark.parametrize("name", NAMES)
def test_wildboar_decodes_fixture(name: str) -> None:
    data, doc = load(name)
    assert oracle.wildboar_decode(doc["type"], data) == doc["wildboar"]


@pytest.mark.oracle
@pytest.mark.parametrize("name", NAMES)
def test_wildboar_decodes_indefinite_lengths(name: str) -> None:
    data, doc = load(name)
    # known limitation (ASN1-NOTES (5)): indefinite lengths inside the value of an
    # EXTERNAL / INSTANCE OF fail ("Tried to decode a DER element that is less than two bytes")
    ind = indefinite(data, skip_external=True)
    assert ind != data
    # open types come back raw ({"ber"}: as received, so indefinite): compare them re-encoded
    assert definite_ber(oracle.wildboar_decode(doc["type"], ind)) == doc["wildboar"]


@pytest.mark.oracle
def test_wildboar_values() -> None:
    data, _ = load("mts_message")
    msg = oracle.wildboar_decode("MTS-APDU", data)["message"]
    env = msg["envelope"]
    assert env["content_type"] == {"built_in": 22}
    assert env["priority"] == 2
    assert env["message_identifier"]["local_identifier"] == "MSG-0001"
    assert env["deferred_delivery_time"] == "2024-05-01T18:00:00Z"
    assert env["per_message_indicators"] == "0011"
    assert [r["per_recipient_indicators"] for r in env["per_recipient_fields"]] == [
        "11111000", "10101000"]
    content = bytes.fromhex(msg["content"]["hex"])
    assert content == load("ipm_full")[0]
    heading = oracle.wildboar_decode("InformationObject", content)["ipm"]["heading"]
    assert bytes.fromhex(heading["subject"]["hex"]) == b"Quarterly report"
    assert heading["expiry_time"] == "2024-06-30T23:59:59Z"
    # the Message type on its own (untagged) and the generic Module/Type lookup
    inner = parse(data)
    inner.ident = b"\x30"
    assert oracle.wildboar_decode("Message", inner.encode()) == msg
    assert oracle.wildboar_decode("MTAAbstractService/Message", inner.encode()) == msg


@pytest.mark.oracle
def test_wildboar_extension_attributes_and_open_types() -> None:
    data, doc = load("orname_full")
    ext = oracle.wildboar_decode("ORName", data)["extension_attributes"]
    # [1] EXPLICIT ANY comes back raw, with its [1] tag
    assert ext[0] == {"extension_attribute_type": 1,
                      "extension_attribute_value": {"ber": "a10c130a" + b"John Smith".hex()}}
    assert doc["summary"]["common-name"] == "John Smith"
    data, _ = load("ipm_general_text")
    part = oracle.wildboar_decode("InformationObject", data)["ipm"]["body"][0]["extended"]
    assert part["data"]["external"]["direct_reference"] == "2.6.1.4.11"
    params = bytes.fromhex(part["parameters"]["external"]["encoding"]["single_ASN1_type"]["ber"])
    assert oracle.wildboar_decode("GeneralTextParameters", params) == [1, 6]
    text = bytes.fromhex(part["data"]["external"]["encoding"]["single_ASN1_type"]["ber"])
    assert oracle.wildboar_decode("GeneralTextData", text) == "Hello general text"


@pytest.mark.oracle
def test_wildboar_accepts_oid_content_type() -> None:
    """Patch (4): the 1988/92 OBJECT IDENTIFIER form of the extended content type."""
    tree = parse(load("mts_message")[0])
    envelope = tree.children[0]  # type: ignore[index]
    ct = next(c for c in envelope.children or [] if c.ident == b"\x46")  # [APPLICATION 6]
    ct.ident, ct.value = b"\x06", bytes.fromhex("2a030405")  # 1.2.3.4.5
    env = oracle.wildboar_decode("MTS-APDU", tree.encode())["message"]["envelope"]
    assert env["content_type"] == {"extended": "1.2.3.4.5"}


@pytest.mark.oracle
def test_wildboar_errors() -> None:
    data, _ = load("mts_message")
    with pytest.raises(oracle.OracleError, match="trailing"):
        oracle.wildboar_decode("MTS-APDU", data + b"\0\0")
    with pytest.raises(oracle.OracleError):
        oracle.wildboar_decode("MTS-APDU", data[:-10])
    with pytest.raises(oracle.OracleError):
        oracle.wildboar_decode("InformationObject", data)
    with pytest.raises(oracle.OracleError, match="unknown type|no such type"):
        oracle.wildboar_decode("NoSuchType", data)
    # an unknown element in the envelope SET: silently skipped by the library, reported by us
    tree = parse(data)
    tree.children[0].children.append(TLV(b"\x9e", b""))  # type: ignore[index, union-attr]
    with pytest.raises(oracle.OracleError, match="unrecognized"):
        oracle.wildboar_decode("MTS-APDU", tree.encode())
    res = oracle.wildboar_decode_full("MTS-APDU", tree.encode())
    assert res.unrecognized == [{"ber": "9e00"}]
    # tag checks added to the library (it would decode any tag with any primitive decoder)
    tree = parse(data)
    # content: UTF8String instead of OCTET STRING
    tree.children[1].ident = b"\x0c"  # type: ignore[index]
    with pytest.raises(oracle.OracleError, match="expected UNIVERSAL 4"):
        oracle.wildboar_decode("MTS-APDU", tree.encode())
    tree = parse(load("ipm_full")[0])
    for node in tree.walk():
        if node.ident == b"\xa8":  # subject [8] EXPLICIT TeletexString -> PrintableString inside
            node.children[0].ident = b"\x13"  # type: ignore[index]
    with pytest.raises(oracle.OracleError, match="TeletexString"):
        oracle.wildboar_decode("InformationObject", tree.encode())
    tree = parse(load("orname_minimal")[0])
    tree.ident = b"\x30"
    with pytest.raises(oracle.OracleError, match="outermost tag"):
        oracle.wildboar_decode("ORName", tree.encode())
    # the server survives errors
    assert oracle.wildboar_decode("MTS-APDU", data)["message"]


# ------------------------------------------------------------------------------------------------
# tshark


@pytest.mark.oracle
def test_tshark_dissects_every_fixture_cleanly() -> None:
    by_kind: dict[str, list[str]] = {}
    for name in NAMES:
        by_kind.setdefault(KIND[load(name)[1]["type"]], []).append(name)
    for kind, names in by_kind.items():
        results = oracle.tshark_decode_many([load(n)[0] for n in names], kind)
        for name, res in zip(names, results, strict=True):
            assert res.ok, (name, res.errors)
            assert not res.warnings, (name, res.warnings)
            assert len(res.entries) > 5 or name.endswith("minimal"), name


@pytest.mark.oracle
def test_tshark_field_values() -> None:
    ipm = oracle.tshark_decode(load("ipm_full")[0], "p22")
    assert ipm.value("p22.subject") == "Quarterly report"
    assert ipm.value("p22.importance") == "2"
    assert ipm.value("p22.sensitivity") == "3"
    assert ipm.value("p22.auto_forwarded") == "1"
    assert ipm.values("p1.surname", under="p22.originator_element") == ["Smith"]
    assert ipm.values("p1.surname", under="p22.PrimaryRecipientsSubfield_element") == [
        "Jones", "Mueller"]
    assert ipm.value("p22.free_form_name", under="p22.originator_element") == "John Smith"
    assert ipm.value("p22.ia5text.data").startswith("Hello Alice,")
    assert ipm.values("p22.TeletexData_item") == ["Page one", "Page two"]
    assert ipm.has("p22.heading_element")

    msg = oracle.tshark_decode(load("mts_message")[0], "p1")
    assert msg.protocols.split(":")[-2:] == ["p1", "p22"]
    assert msg.value("p1.MTS_APDU") == "0"
    assert msg.value("p1.built_in") == "22"
    assert msg.value("p1.priority") == "2"
    assert msg.value("p1.local_identifier") == "MSG-0001"
    assert msg.values("p1.iso_3166_alpha2_code", under="p1.recipient_name_element") == [
        "GB", "DE"]
    assert msg.value("p1.deferred_delivery_time") == "24-05-01 18:00:00 (UTC)"
    assert msg.value("p22.subject") == "Quarterly report"  # the content, dissected as P22

    rpt = oracle.tshark_decode(load("mts_report")[0], "p1")
    assert rpt.value("p1.MTS_APDU") == "1"
    assert rpt.value("p1.non_delivery_reason_code") == "1"
    assert rpt.value("p1.non_delivery_diagnostic_code") == "0"
    assert rpt.value("p1.supplementary_information") == "no route to DE"

    probe = oracle.tshark_decode(load("mts_probe")[0], "p1")
    assert probe.value("p1.MTS_APDU") == "2"
    assert probe.value("p1.content_length") == "4096"

    orn = oracle.tshark_decode(load("orname_full")[0], "orname")
    assert orn.value("p1.CommonName") == "John Smith"
    assert orn.value("p1.TeletexCommonName") == "J. Smith"
    assert orn.values("p1.printable.type") == ["RFC-822", "ID"]
    assert orn.values("p1.value", under="p1.BuiltInDomainDefinedAttribute_element") == [
        "john(a)example.com", "12345"]
    assert orn.values("p1.OrganizationalUnitName") == ["Sales", "EMEA"]
    assert orn.value("p1.given_name", under="p1.TeletexPersonalName_element") == "Juergen"

    gt = oracle.tshark_decode(load("ipm_general_text")[0], "p22")
    assert gt.value("p22.GeneralTextData") == "Hello general text"


@pytest.mark.oracle
def test_tshark_accepts_indefinite_lengths() -> None:
    for kind, name in [("p1", "mts_message"), ("p22", "ipm_full"), ("orname", "orname_full")]:
        definite, res = oracle.tshark_decode_many([load(name)[0], indefinite(load(name)[0])], kind)
        assert res.ok, (name, res.errors)
        assert res.fields == definite.fields


@pytest.mark.oracle
def test_tshark_reports_errors() -> None:
    data = load("mts_message")[0]
    variants: dict[str, bytes] = {"trailing": data + b"\0\0", "truncated": data[:-40]}

    # an unknown element in the envelope SET
    tree = parse(data)
    tree.children[0].children.append(TLV(b"\x9e", b""))  # type: ignore[index, union-attr]
    variants["unknown SET element"] = tree.encode()

    # per-recipient-indicators of 1 bit (X.411: SIZE (8..ub-bit-options))
    tree = parse(data)
    for node in tree.walk():
        if node.ident == b"\x81" and node.value[:1] == b"\x00" and len(node.value) == 2:
            node.value = b"\x07\x80"
    variants["short bit string"] = tree.encode()
    results = oracle.tshark_decode_many(list(variants.values()), "p1")
    for what, res in zip(variants, results, strict=True):
        assert not res.ok, what

    # extension attribute value written IMPLICIT (the classic [1] ANY mistake)
    tree = parse(load("orname_full")[0])
    for node in tree.walk():
        if node.ident == b"\xa1" and node.children and node.children[0].ident == b"\x13":
            node.ident, node.value, node.children = b"\x81", node.children[0].value, None
            break
    res = oracle.tshark_decode(tree.encode(), "orname")
    assert any("BER Error" in e for e in res.errors), res.errors

    # the wrong dissector entirely
    res = oracle.tshark_decode(load("ipm_full")[0], "p1")
    assert not res.ok

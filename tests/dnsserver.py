"""A small authoritative DNS server for tests, on loopback (UDP and TCP, one ephemeral port).

It serves master files loaded with ``dns.zone.from_file`` and answers with dnspython's own
message machinery (``dns.message.from_wire`` / ``make_response``).  dnspython has no
authoritative lookup, so :meth:`DNSServer.answer` implements the RFC 1034 §4.3.2 algorithm for
what the tests need: exact matches, empty non-terminals, NXDOMAIN / NODATA with the zone's SOA
in the authority section (RFC 2308 §3, so resolvers can cache negative answers), in-zone CNAME
chains and wildcard synthesis per RFC 4592 §3.3.1 (the source of synthesis is ``*`` under the
closest encloser; an existing name, even an empty non-terminal, blocks it).  Delegations
(NS below an apex) and DNSSEC are not implemented.  A name outside every zone is REFUSED.

Modes: :attr:`Mode.ANSWER` answers; :attr:`Mode.SILENT` reads queries and never answers (to
drive a resolver into its timeout); :attr:`Mode.SERVFAIL` answers every query with SERVFAIL.
``servfail_names`` makes single names fail while the rest are answered, and ``truncate_udp``
sets TC on every UDP answer so that resolvers retry over TCP.

The server is ready when :meth:`DNSServer.start` returns (its sockets are bound); it runs in a
daemon thread and :meth:`DNSServer.stop` (or leaving the ``with`` block) ends it::

    with DNSServer.from_directory(Path("tests/data/dns")) as server:
        resolver.nameservers = [server.host]; resolver.port = server.port
"""

from __future__ import annotations

import enum
import selectors
import socket
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone

#: Classic DNS over UDP: 512 octets without EDNS (RFC 1035 §4.2.1).
UDP_LIMIT = 512
#: CNAME chains followed inside the server's zones before giving up.
MAX_CNAME_CHAIN = 8


class Mode(enum.Enum):
    ANSWER = "answer"
    SILENT = "silent"
    SERVFAIL = "servfail"


@dataclass(frozen=True, slots=True)
class Query:
    """One query as the server received it (for tests that check what a client asked)."""

    transport: str  # "udp" or "tcp"
    qname: str
    qtype: str


def load_zones(directory: Path) -> list[dns.zone.Zone]:
    """Every ``<origin>.zone`` in ``directory`` (``it.zone`` holds the zone ``it.``)."""
    return [dns.zone.from_file(str(path), origin=path.stem + ".", relativize=False)
            for path in sorted(directory.glob("*.zone"))]


class DNSServer:
    """An authoritative server for ``zones`` on ``host`` and an ephemeral port."""

    def __init__(self, zones: Iterable[dns.zone.Zone], *, mode: Mode = Mode.ANSWER,
                 host: str = "127.0.0.1", servfail_names: Iterable[str] = (),
                 truncate_udp: bool = False) -> None:
        # Longest origin first, so a child zone wins over its parent.
        self.zones = sorted(zones, key=lambda z: len(z.origin or dns.name.root), reverse=True)
        self.mode = mode
        self.host = host
        self.servfail_names = frozenset(dns.name.from_text(n) for n in servfail_names)
        self.truncate_udp = truncate_udp
        self.queries: list[Query] = []
        self.port = 0
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []

    @classmethod
    def from_directory(cls, directory: Path, **kwargs: object) -> DNSServer:
        return cls(load_zones(directory), **kwargs)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ life cycle

    def start(self) -> DNSServer:
        """Bind UDP and TCP on one free port and serve in a daemon thread."""
        for _ in range(20):  # the UDP port may be taken for TCP: try another one
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((self.host, 0))
            port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.host, port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(16)
            self._udp, self._tcp, self.port = udp, tcp, port
            break
        else:
            raise OSError("no port free for both UDP and TCP")
        thread = threading.Thread(target=self._serve, name=f"dnsserver:{self.port}",
                                  daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._wake_w.send(b"x")
        for conn in list(self._conns):  # wake TCP workers blocked in recv()
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in list(self._threads):
            thread.join(timeout=5)
        for sock in (self._udp, self._tcp, *self._conns, self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()

    def __enter__(self) -> DNSServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ sockets

    def _serve(self) -> None:
        assert self._udp is not None and self._tcp is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._udp, selectors.EVENT_READ, "udp")
            sel.register(self._tcp, selectors.EVENT_READ, "tcp")
            sel.register(self._wake_r, selectors.EVENT_READ, "wake")
            while not self._stopping.is_set():
                for key, _ in sel.select():
                    if key.data == "udp":
                        wire, peer = self._udp.recvfrom(65535)
                        reply = self._handle(wire, "udp")
                        if reply is not None:
                            self._udp.sendto(reply, peer)
                    elif key.data == "tcp":
                        conn, _ = self._tcp.accept()
                        self._conns.append(conn)
                        worker = threading.Thread(target=self._serve_tcp, args=(conn,),
                                                  daemon=True)
                        self._threads.append(worker)
                        worker.start()

    def _serve_tcp(self, conn: socket.socket) -> None:
        """RFC 1035 §4.2.2: each message is preceded by a two-octet length."""
        conn.settimeout(5)
        try:
            while not self._stopping.is_set():
                head = _recv_exact(conn, 2)
                if head is None:
                    return
                wire = _recv_exact(conn, struct.unpack("!H", head)[0])
                if wire is None:
                    return
                reply = self._handle(wire, "tcp")
                if reply is not None:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
        except OSError:
            return

    def _handle(self, wire: bytes, transport: str) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if query.question:
            q = query.question[0]
            self.queries.append(Query(transport, q.name.to_text(),
                                      dns.rdatatype.to_text(q.rdtype)))
        if self.mode is Mode.SILENT:
            return None
        response = self.answer(query)
        if transport == "udp":
            if self.truncate_udp:
                response = _truncated(response)
            try:
                return response.to_wire(max_size=max(UDP_LIMIT, query.payload))
            except dns.exception.TooBig:
                return _truncated(response).to_wire()
        return response.to_wire()

    # ------------------------------------------------------------------ answers

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        """The authoritative response to ``query`` (RFC 1034 §4.3.2, RFC 4592 §3.3.1)."""
        response = dns.message.make_response(query)
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return response
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        q = query.question[0]
        if self.mode is Mode.SERVFAIL or q.name in self.servfail_names:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        zone = self._zone_for(q.name)
        if zone is None or q.rdclass != dns.rdataclass.IN:
            response.set_rcode(dns.rcode.REFUSED)
            return response
        response.flags |= dns.flags.AA
        qname = q.name
        for _ in range(MAX_CNAME_CHAIN):
            target = self._answer_in_zone(zone, qname, q.rdtype, response)
            if target is None:
                break
            zone_of_target = self._zone_for(target)
            if zone_of_target is None:  # out of our zones: the client resolves further
                break
            zone, qname = zone_of_target, target
        return response

    def _zone_for(self, name: dns.name.Name) -> dns.zone.Zone | None:
        for zone in self.zones:
            assert zone.origin is not None
            if name.is_subdomain(zone.origin):
                return zone
        return None

    def _answer_in_zone(self, zone: dns.zone.Zone, qname: dns.name.Name,
                        rdtype: dns.rdatatype.RdataType,
                        response: dns.message.Message) -> dns.name.Name | None:
        """Add the answer for one name; return a CNAME target to follow, if any."""
        node = zone.get_node(qname)
        if node is None:
            if self._exists(zone, qname):  # an empty non-terminal: NODATA
                self._add_soa(zone, response)
                return None
            encloser = qname.parent()
            while not self._exists(zone, encloser):
                encloser = encloser.parent()
            node = zone.get_node(dns.name.Name((b"*", *encloser.labels)))
            if node is None:  # no source of synthesis: the name does not exist
                if not response.answer:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                self._add_soa(zone, response)
                return None
        rdataset = node.get_rdataset(dns.rdataclass.IN, rdtype)
        if rdataset is not None:  # owner = qname: this also synthesises wildcard answers
            response.answer.append(_rrset(qname, rdataset))
            return None
        cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
        if cname is not None and rdtype != dns.rdatatype.CNAME:
            response.answer.append(_rrset(qname, cname))
            target: dns.name.Name = cname[0].target
            return target
        self._add_soa(zone, response)
        return None

    @staticmethod
    def _exists(zone: dns.zone.Zone, name: dns.name.Name) -> bool:
        """A name exists if it owns records or has a descendant that does (RFC 4592 §2.2.2)."""
        return zone.get_node(name) is not None or any(
            owner.is_subdomain(name) for owner in zone.nodes)

    @staticmethod
    def _add_soa(zone: dns.zone.Zone, response: dns.message.Message) -> None:
        assert zone.origin is not None
        soa = zone.find_rdataset(zone.origin, dns.rdatatype.SOA)
        rrset = _rrset(zone.origin, soa)
        rrset.ttl = min(soa.ttl, soa[0].minimum)  # RFC 2308 §3: the negative TTL
        response.authority.append(rrset)


def _rrset(name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> dns.rrset.RRset:
    return dns.rrset.from_rdata_list(name, rdataset.ttl, list(rdataset))


def _truncated(response: dns.message.Message) -> dns.message.Message:
    """RFC 1035 §4.1.1 TC: the answer did not fit; ask again over TCP."""
    response.answer.clear()
    response.authority.clear()
    response.additional.clear()
    response.flags |= dns.flags.TC
    return response


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data

"""The X.400 endpoint: P1 over RFC 1006 (the OSI upper-layer stack) and a file spool.

One sans-IO engine per layer (STYLE.md §1), each named after its standard, stacked bottom-up::

    tpkt.py          RFC 1006 §6 TPKT framing
    cotp.py          X.224 class 0 (RFC 1006 §5 exceptions: user data in CR/CC, 65531 max TPDU)
                     (+ cotp_tpdu.py: the TPDU codec)
    session.py       X.225 (kernel, half-duplex/duplex, exceptions, minor sync, activities)
                     (+ spdu.py codec, session_primitives.py, session_states.py table,
                     session_base/_connect/_activity.py procedures)
    presentation.py  X.226 kernel (CP/CPA/CPR/TD/ARU/ARP), BER transfer syntax only
    acse.py          X.227 (AARQ/AARE/RLRQ/RLRE/ABRT)
    rtse.py          X.228 normal mode over ACSE+presentation, X.410-1984 mode over session
                     (+ rtse_primitives.py)
    mta.py           X.419 P1: MTA bind (name + password), MTS-APDU transfer, release
    stack.py         all of the above as one engine: bytes in, P1 events out
    shell.py         the asyncio responder and initiator (sockets, timers)
    peers.py         the peer table (who may bind, with which password, in which mode)
    spool.py         the file-spool transport (directories of BER MTS-APDUs)

Conventions shared by every engine:

* Service primitives are frozen keyword-only dataclasses named after the standard's primitive
  (X.215 ``S-TOKEN-GIVE`` -> ``STokenGive``).  One class serves request and indication (and
  response and confirm): the direction is whether it goes *into* ``send`` or comes *out of*
  ``next_event``.
* ``receive(...)`` takes what the layer below delivered, ``next_event()`` returns the next
  primitive for the layer above (``None`` when there is none yet), ``send(primitive)`` returns
  what to hand to the layer below.  The byte-level layers take and return ``bytes``.
* No sockets, no clocks, no asyncio inside an engine; a timeout reaches an engine as a call.
* A peer that breaks the protocol makes the engine raise :class:`bridge.errors.ProtocolError`
  (naming the layer) and move to a closed state; the shell then aborts and closes.
* State tables are data, named as the standard names states and events, each citing its clause.
"""

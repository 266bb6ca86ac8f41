"""The file spool: atomic publish, exactly-once claims, bad files shunted with reasons, recovery."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from bridge.codec import decode_apdu
from bridge.x400.spool import Claimed, Spool, sanitise_name

SAMPLE_DIR = Path(__file__).parent / "data" / "samples"  # the bundled golden APDUs


def test_layout_created(tmp_path: Path) -> None:
    Spool(tmp_path / "spool")
    for sub in ("in", "out", "tmp", "work/in", "work/out", "bad/in", "bad/out"):
        assert (tmp_path / "spool" / sub).is_dir()


def test_put_claim_done(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    first = spool.put("in", b"one")
    second = spool.put("in", b"two", name="msg-2")
    spool.put("out", b"elsewhere")
    assert first.parent == tmp_path / "in" and first.suffix == ".ber"
    assert second == tmp_path / "in" / "msg-2.ber"
    os.utime(first, ns=(1, 1))  # make the order unambiguous: first is oldest
    claimed = list(spool.claim("in"))
    assert [c.data for c in claimed] == [b"one", b"two"]
    assert claimed[1].name == "msg-2" and claimed[1].direction == "in"
    assert all(c.path.parent == tmp_path / "work" / "in" for c in claimed)
    assert list((tmp_path / "in").iterdir()) == []
    for c in claimed:
        spool.done(c)
    assert list((tmp_path / "work" / "in").iterdir()) == []
    assert list(spool.claim("in")) == []
    assert [c.data for c in spool.claim("out")] == [b"elsewhere"]


def test_put_never_replaces(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put("in", b"first", name="same")
    with pytest.raises(FileExistsError):
        spool.put("in", b"second", name="same")
    assert (tmp_path / "in" / "same.ber").read_bytes() == b"first"
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    "name, safe",
    [
        ("a/b", "a_b"),
        ("../../etc/passwd", "_._.._etc_passwd"),
        ("x.ber", "x"),
        (".hidden", "_hidden"),
        ("ok-1.2_3", "ok-1.2_3"),
        ("a\\b:c d", "a_b_c_d"),
    ],
)
def test_names_sanitised(tmp_path: Path, name: str, safe: str) -> None:
    assert sanitise_name(name) == safe
    path = Spool(tmp_path).put("in", b"x", name=name)
    assert path == tmp_path / "in" / f"{safe}.ber"


def test_empty_name_rejected() -> None:
    with pytest.raises(ValueError):
        sanitise_name(".ber")


def test_bad_direction(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Spool(tmp_path).put("sideways", b"")  # type: ignore[arg-type]


def test_claim_ignores_temp_and_foreign_files(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (tmp_path / "in" / "notes.txt").write_bytes(b"x")
    (tmp_path / "in" / ".partial.ber").write_bytes(b"x")
    (tmp_path / "in" / "x.ber.tmp").write_bytes(b"x")
    (tmp_path / "in" / "dir.ber").mkdir()
    (tmp_path / "tmp" / "half.ber").write_bytes(b"x")
    assert list(spool.claim("in")) == []


def test_reader_sees_only_complete_files(tmp_path: Path) -> None:
    """Atomicity: while put() writes (in tmp/), the direction folder holds no partial file."""
    spool = Spool(tmp_path)
    payload = bytes(range(256)) * 4096  # 1 MiB
    seen: list[bytes] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            for claimed in spool.claim("in"):
                seen.append(claimed.data)
                spool.done(claimed)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(20):
            spool.put("in", payload)
    finally:
        stop.set()
        thread.join()
    seen.extend(c.data for c in spool.claim("in"))
    assert len(seen) == 20 and all(data == payload for data in seen)


def test_racing_claimers_each_file_once(tmp_path: Path) -> None:
    writer = Spool(tmp_path)
    names = {writer.put("in", f"apdu {i}".encode()).name for i in range(300)}
    claimers = [Spool(tmp_path) for _ in range(4)]  # separate objects, as separate processes
    results: list[list[Claimed]] = [[] for _ in claimers]
    barrier = threading.Barrier(len(claimers))

    def run(index: int) -> None:
        barrier.wait()
        for claimed in claimers[index].claim("in"):
            results[index].append(claimed)
            claimers[index].done(claimed)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(claimers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    claimed_names = [c.path.name for result in results for c in result]
    assert sorted(claimed_names) == sorted(names)  # every file, none twice
    assert len(set(claimed_names)) == len(claimed_names)


def test_bad_file_moved_aside_with_reason(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put("in", b"\x30\x03garbage", name="junk")
    good = spool.put("in", (SAMPLE_DIR / "message-text.p1.ber").read_bytes(), name="good")
    os.utime(good, ns=(2**40, 2**40))
    claimed = list(spool.claim("in", validate=decode_apdu))
    assert [c.name for c in claimed] == ["good"]
    bad = tmp_path / "bad" / "in"
    assert (bad / "junk.ber").read_bytes() == b"\x30\x03garbage"
    reason = (bad / "junk.reason").read_text()
    assert reason.startswith("DecodeError: ")
    assert list((tmp_path / "work" / "in").iterdir()) == [claimed[0].path]


def test_reject_twice_same_name_keeps_both(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for data in (b"a", b"b"):
        spool.put("out", data, name="dup")
        [claimed] = spool.claim("out")
        spool.reject(claimed, "peer refused it")
    bad = tmp_path / "bad" / "out"
    assert (bad / "dup.ber").read_bytes() == b"a" and (bad / "dup-1.ber").read_bytes() == b"b"
    assert (bad / "dup-1.reason").read_text() == "peer refused it\n"


def test_other_exceptions_leave_file_in_work(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put("in", b"x", name="boom")

    def validate(data: bytes) -> None:
        raise RuntimeError("consumer bug")

    with pytest.raises(RuntimeError):
        list(spool.claim("in", validate=validate))
    assert (tmp_path / "work" / "in" / "boom.ber").exists()  # not lost, not shunted
    assert spool.recover() == 1
    assert [c.data for c in spool.claim("in")] == [b"x"]


def test_recover_after_crash(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for i in range(3):
        spool.put("in", bytes([i]), name=f"m{i}")
    spool.put("out", b"o", name="m0")
    crashed = Spool(tmp_path)
    iterator = crashed.claim("in")
    next(iterator)
    next(iterator)  # two claimed, never done: the process "dies" here
    list(crashed.claim("out"))
    del iterator
    fresh = Spool(tmp_path)
    assert list(fresh.claim("in"))[0].name == "m2"  # only the unclaimed one is visible
    assert fresh.recover() == 4  # m2 (claimed just now, not done) too, and the out file
    assert sorted(c.name for c in fresh.claim("in")) == ["m0", "m1", "m2"]
    assert [c.data for c in fresh.claim("out")] == [b"o"]


def test_recover_keeps_both_on_name_clash(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put("in", b"old", name="x")
    [claimed] = spool.claim("in")
    spool.put("in", b"new", name="x")  # the name is free again in in/
    assert spool.recover() == 1
    assert sorted(c.data for c in spool.claim("in")) == [b"new", b"old"]
    assert claimed.data == b"old"


@pytest.mark.parametrize("path", sorted(SAMPLE_DIR.glob("*.p1.ber")), ids=lambda p: p.name)
def test_real_apdu_passes_validation(tmp_path: Path, path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put("in", path.read_bytes())
    [claimed] = spool.claim("in", validate=decode_apdu)
    assert claimed.data == path.read_bytes()
    assert list((tmp_path / "bad" / "in").iterdir()) == []

"""The writer process's hand-over: a batch of hits through a pipe, as the server's sender thread
sends it, framed by ``multiprocessing.connection.Connection`` against the length prefix of our own
that it replaced.

    .venv/bin/python -m bench.handover

A pipe whose other end a thread reads and unpickles (the child's part, here in the same process
so that the figure is the sender's cost plus the reader's); batches of 50 hits (20 ms of traffic
at 2,500 hits a second) and of 2,000, ``--rounds`` times each way, alternating. Each figure is
the fastest round, per hit: pickling, framing and writing, and reading back.
"""

import argparse
import os
import pickle
import struct
import threading
import time
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from types import SimpleNamespace

from tests.hits import make_hit


def make_hits(count):
    site = SimpleNamespace(id=1, owner_id=1, timezone="Europe/Berlin")
    start = datetime(2026, 3, 1, 8)
    return [
        make_hit(site, start + timedelta(seconds=i), f"/page-{i % 300}?q={i % 7}", ip=f"81.2.{i % 250}.{i % 199}",
                 referrer="https://www.google.com/", props={"plan": "pro"} if i % 10 == 0 else None)
        for i in range(count)
    ]

_LENGTH = struct.Struct("!I")


def own_framing(batches):
    """The former way: a 4-byte length, then the pickle, on a raw pipe file."""
    read_fd, write_fd = os.pipe()
    reader = open(read_fd, "rb", buffering=0)
    writer = open(write_fd, "wb", buffering=0)

    def read_exactly(size):
        chunks = []
        while size:
            chunk = reader.read(size)
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def drain():
        for _ in batches:
            pickle.loads(read_exactly(_LENGTH.unpack(read_exactly(_LENGTH.size))[0]))

    thread = threading.Thread(target=drain)
    thread.start()
    started = time.perf_counter()
    for batch in batches:
        data = pickle.dumps(list(map(tuple, batch)), protocol=pickle.HIGHEST_PROTOCOL)
        writer.write(_LENGTH.pack(len(data)) + data)
    thread.join()
    elapsed = time.perf_counter() - started
    writer.close()
    reader.close()
    return elapsed


def connection_framing(batches):
    """The way of tracking.ingest.writer: Connection.send_bytes / recv_bytes."""
    read_fd, write_fd = os.pipe()
    reader = Connection(read_fd, writable=False)
    writer = Connection(write_fd, readable=False)

    def drain():
        for _ in batches:
            pickle.loads(reader.recv_bytes())

    thread = threading.Thread(target=drain)
    thread.start()
    started = time.perf_counter()
    for batch in batches:
        writer.send_bytes(pickle.dumps(list(map(tuple, batch)), protocol=pickle.HIGHEST_PROTOCOL))
    thread.join()
    elapsed = time.perf_counter() - started
    writer.close()
    reader.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hits", type=int, default=20_000, help="hits a round")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    hits = make_hits(args.hits)
    for size in (50, 2000):
        batches = [hits[i : i + size] for i in range(0, len(hits), size)]
        best = {"own length prefix": float("inf"), "Connection": float("inf")}
        for _ in range(args.rounds):
            best["own length prefix"] = min(best["own length prefix"], own_framing(batches))
            best["Connection"] = min(best["Connection"], connection_framing(batches))
        figures = ", ".join(f"{name} {seconds / len(hits) * 1e6:.2f} µs" for name, seconds in best.items())
        print(f"batches of {size}: per hit, {figures}")


if __name__ == "__main__":
    main()

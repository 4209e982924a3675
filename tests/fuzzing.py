"""Seeded random mutation of bitstreams, shared by the fuzz tests."""
import random


def mutate(data: bytes, rng: random.Random, header_bytes: int = 64) -> bytes:
    """One mutation of ``data``: bit flips, byte overwrites, truncation, insertion or deletion.

    Half of the mutations target the first ``header_bytes`` bytes, where the headers live.
    """
    buffer = bytearray(data)
    kind = rng.randrange(6)

    def position() -> int:
        limit = min(len(buffer), header_bytes) if rng.random() < 0.5 else len(buffer)
        return rng.randrange(max(1, limit))

    if kind == 0:  # flip a few bits
        for _ in range(rng.randint(1, 4)):
            buffer[position()] ^= 1 << rng.randrange(8)
    elif kind == 1:  # overwrite bytes with random values
        for _ in range(rng.randint(1, 4)):
            buffer[position()] = rng.randrange(256)
    elif kind == 2:  # truncate
        del buffer[rng.randrange(len(buffer)):]
    elif kind == 3:  # insert random bytes
        at = position()
        buffer[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == 4:  # delete a run of bytes
        at = position()
        del buffer[at:at + rng.randint(1, 8)]
    else:  # extreme values in a 32-bit field
        at = position()
        buffer[at:at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00"])
    return bytes(buffer)

"""Random streams keyed by name, so common random numbers survive config changes.

Each stochastic element (a station's cycle times, each failure mode's
times to failure and repair, defects, the operator) draws from its own
stream, derived from (seed, replication, element, purpose) with
numpy's SeedSequence. Two runs with the same seed share every stream even
when one has a different PLC program, so paired differences measure the
change, not the noise.
"""

from __future__ import annotations

import zlib

import numpy as np


def _key(text: str) -> int:
    return zlib.crc32(text.encode())


class Streams:
    def __init__(self, seed: int, replication: int) -> None:
        self.seed, self.replication = seed, replication

    def rng(self, *names: str) -> np.random.Generator:
        ss = np.random.SeedSequence(entropy=self.seed, spawn_key=(self.replication, *map(_key, names)))
        return np.random.Generator(np.random.PCG64(ss))

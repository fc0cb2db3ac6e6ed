"""Clusters: connected components of the links, with guards against chaining.

Records with the same resident-number token start in one cluster.  Probabilistic links are
then added strongest first; a link is refused when it would join two clusters that carry
different tokens (two resident numbers are two people, however alike they look), or when
the joined cluster would exceed ``max_size`` records — a single weak chain A–B–C must not
glue two people together through a third record.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from khealth.identity.table import Codes

Labels = npt.NDArray[np.int64]
MAX_CLUSTER = 64


class Clusters:
    def __init__(self, tokens: Codes, max_size: int = MAX_CLUSTER) -> None:
        n = len(tokens)
        self.max_size = max_size
        # a record with a token starts under the first record with that token
        parent = np.arange(n, dtype=np.int64)
        tokened = np.flatnonzero(tokens >= 0)
        _, first, inverse = np.unique(tokens[tokened], return_index=True, return_inverse=True)
        parent[tokened] = tokened[first][inverse]
        self.parent = parent
        self.size = np.bincount(parent, minlength=n).astype(np.int64)
        self.token = np.full(n, -1, dtype=np.int64)
        self.token[parent[tokened]] = tokens[tokened]
        self.joined_by_link = np.zeros(n, dtype=bool)

    def find(self, row: int) -> int:
        root = row
        while self.parent[root] != root:
            root = int(self.parent[root])
        while self.parent[row] != root:  # path compression
            self.parent[row], row = root, int(self.parent[row])
        return root

    def may_join(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ta, tb = self.token[ra], self.token[rb]
        if ta >= 0 and tb >= 0 and ta != tb:
            return False
        return bool(self.size[ra] + self.size[rb] <= self.max_size)

    def join(self, a: int, b: int) -> bool:
        """Link two records (and their clusters) when the guards allow it."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if not self.may_join(a, b):
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        self.token[ra] = max(self.token[ra], self.token[rb])
        self.joined_by_link[[a, b]] = True
        return True

    def join_strongest_first(self, a: Codes, b: Codes, weight: npt.NDArray[np.float64]) -> int:
        refused = 0
        for i in np.argsort(-weight, kind="stable"):
            refused += not self.join(int(a[i]), int(b[i]))
        return refused

    def labels(self) -> Labels:
        """The root of each record's cluster (pointer jumping: every record at once)."""
        labels = self.parent.copy()
        while True:
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                return labels
            labels = jumped

    def join_all(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Operator-confirmed links: these bypass the size guard but not the token guard."""
        for a, b in pairs:
            ra, rb = self.find(a), self.find(b)
            ta, tb = self.token[ra], self.token[rb]
            if ra != rb and not (ta >= 0 and tb >= 0 and ta != tb):
                self.parent[rb] = ra
                self.size[ra] += self.size[rb]
                self.token[ra] = max(ta, tb)
                self.joined_by_link[[a, b]] = True

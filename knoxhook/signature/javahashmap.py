"""The iteration order of a ``java.util.HashMap<String, ?>`` filled by ``put`` in order.

Samsung's sample parses a callback into a ``HashMap`` (``readValue(bytes, HashMap.class)``)
and Jackson serializes it in the map's iteration order, so that order is part of the
signed bytes. OpenJDK's HashMap (unchanged since JDK 8) iterates its table in bucket
order and each bucket along its ``next`` links:

- hash = ``h ^ (h >>> 16)`` of ``String.hashCode`` (over UTF-16 code units); bucket =
  ``hash & (n - 1)``; the table starts at 16 and doubles when size exceeds 0.75 n; a
  resize splits each chain into a low and a high chain, keeping their order;
- a new key is appended to its bucket's chain; ``put`` of an existing key replaces the
  value in place (its position does not change);
- a chain that reaches 9 nodes becomes a red-black tree ("treeified") when the table has
  at least 64 buckets (else the table is resized instead). A tree bin still iterates along
  ``next``, but treeifying moves the tree's root to the front, a key added to a tree is
  linked right after its tree parent, and a split tree bin of more than 6 nodes is
  treeified again. Those steps are reproduced (``javatreebin``), since an attacker can
  pick keys with equal hashes ("Aa" and "BB" collide).

Only ``order`` is public: it returns the keys in iteration order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from knoxhook.signature.javatreebin import Node, Tree, untreeify

_TREEIFY_THRESHOLD: Final = 8
_UNTREEIFY_THRESHOLD: Final = 6
_MIN_TREEIFY_CAPACITY: Final = 64


def java_string_hash(key: str) -> int:
    """``String.hashCode()`` as an unsigned 32-bit value."""
    h = 0
    if key.isascii():
        for c in key.encode("ascii"):
            h = (31 * h + c) & 0xFFFFFFFF
        return h
    units = key.encode("utf-16-le", "surrogatepass")
    for i in range(0, len(units), 2):
        h = (31 * h + (units[i] | units[i + 1] << 8)) & 0xFFFFFFFF
    return h


_SPREAD_MAX: Final = 4096
_spread: dict[str, int] = {}  # callbacks repeat the same few names: hash each once


def spread(key: str) -> int:
    """``HashMap.hash(key)``: the hash code with its high half folded into the low half."""
    h = _spread.get(key)
    if h is None:
        h = java_string_hash(key)
        h ^= h >> 16
        if len(_spread) >= _SPREAD_MAX:
            _spread.clear()
        _spread[key] = h
    return h


def _bucket16(key: str) -> int:
    return spread(key) & 15


class _HashMap:
    def __init__(self) -> None:
        self.table: list[Node | None] = []
        self.size = 0
        self.threshold = 0
        self.nodes: dict[str, Node] = {}

    def put(self, key: str) -> None:
        if key in self.nodes:  # an existing key keeps its node (and its place)
            return
        if not self.table:
            self.resize()
        h = spread(key)
        node = Node(key, h)
        self.nodes[key] = node
        table = self.table
        i = h & (len(table) - 1)
        p = table[i]
        if p is None:
            table[i] = node
        elif p.tree:
            Tree.put(table, p, node)
        else:
            bin_count = 0
            while p.next is not None:
                p = p.next
                bin_count += 1
            p.next = node
            if bin_count >= _TREEIFY_THRESHOLD - 1:
                self.treeify_bin(h)
        self.size += 1
        if self.size > self.threshold:
            self.resize()

    def treeify_bin(self, h: int) -> None:
        if len(self.table) < _MIN_TREEIFY_CAPACITY:
            self.resize()
            return
        head = self.table[h & (len(self.table) - 1)]
        if head is not None:
            prev: Node | None = None
            node: Node | None = head
            while node is not None:
                node.tree = True
                node.prev = prev
                prev = node
                node = node.next
            Tree.treeify(self.table, head)

    def resize(self) -> None:
        old = self.table
        cap = len(old) * 2 if old else 16
        self.threshold = cap * 3 // 4
        table: list[Node | None] = [None] * cap
        self.table = table
        for j, e in enumerate(old):
            if e is None:
                continue
            if e.next is None:
                table[e.hash & (cap - 1)] = e
            elif e.tree:
                self.split(e, j, len(old))
            else:
                lo, hi = self.split_chain(e, len(old))
                table[j] = lo
                table[j + len(old)] = hi

    @staticmethod
    def split_chain(e: Node | None, bit: int) -> tuple[Node | None, Node | None]:
        heads: list[Node | None] = [None, None]
        tails: list[Node | None] = [None, None]
        while e is not None:
            nxt = e.next
            side = 1 if e.hash & bit else 0
            tail = tails[side]
            if tail is None:
                heads[side] = e
            else:
                tail.next = e
            tails[side] = e
            e = nxt
        for tail in tails:
            if tail is not None:
                tail.next = None
        return heads[0], heads[1]

    def split(self, b: Node, index: int, bit: int) -> None:
        heads: list[Node | None] = [None, None]
        tails: list[Node | None] = [None, None]
        counts = [0, 0]
        e: Node | None = b
        while e is not None:
            nxt = e.next
            e.next = None
            side = 1 if e.hash & bit else 0
            tail = tails[side]
            e.prev = tail
            if tail is None:
                heads[side] = e
            else:
                tail.next = e
            tails[side] = e
            counts[side] += 1
            e = nxt
        for side, slot in ((0, index), (1, index + bit)):
            head = heads[side]
            if head is None:
                continue
            if counts[side] <= _UNTREEIFY_THRESHOLD:
                self.table[slot] = untreeify(head)
            else:
                self.table[slot] = head
                if heads[1 - side] is not None:  # else the tree moved whole, root first
                    Tree.treeify(self.table, head)

    def keys(self) -> list[str]:
        out = []
        for e in self.table:
            while e is not None:
                out.append(e.key)
                e = e.next
        return out


def order(keys: Sequence[str]) -> Sequence[str]:
    """The distinct ``keys``, in the order a ``HashMap`` they were ``put`` into iterates.

    ``keys`` are distinct and in first-insertion order (a later ``put`` of the same key
    does not move it).
    """
    if len(keys) <= _TREEIFY_THRESHOLD:  # no resize, no tree: sort by bucket of 16
        shape = keys if type(keys) is tuple else tuple(keys)
        known = _orders.get(shape)
        if known is None:
            known = tuple(sorted(keys, key=_bucket16))  # sorted() is stable
            if len(_orders) >= _ORDERS_MAX:
                _orders.clear()
            _orders[shape] = known
        return known
    hashmap = _HashMap()
    for key in keys:
        hashmap.put(key)
    return hashmap.keys()


_ORDERS_MAX: Final = 1024
_orders: dict[tuple[str, ...], tuple[str, ...]] = {}  # callbacks repeat a few small key sets

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
  treeified again. Those steps are reproduced below (``_Tree``), since an attacker can pick
  keys with equal hashes ("Aa" and "BB" collide).

Only ``order`` is public: it returns the keys in iteration order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

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


def _signed(h: int) -> int:
    return h - (1 << 32) if h >> 31 else h


def _utf16(key: str) -> bytes:
    # big-endian UTF-16 compares bytewise as String.compareTo compares code units
    return key.encode("utf-16-be", "surrogatepass")


@dataclass(eq=False)
class _Node:
    key: str
    hash: int  # unsigned spread hash
    next: _Node | None = None
    # tree bins only
    parent: _Node | None = None
    left: _Node | None = None
    right: _Node | None = None
    prev: _Node | None = None
    red: bool = False
    tree: bool = False
    shash: int = field(init=False)  # signed: TreeNode compares hashes as Java ints

    def __post_init__(self) -> None:
        self.shash = _signed(self.hash)


def _direction(k: _Node, p: _Node) -> int:
    """-1 to go left of ``p``, 1 right (hash first, then String.compareTo)."""
    if p.shash > k.shash:
        return -1
    if p.shash < k.shash:
        return 1
    return -1 if _utf16(k.key) < _utf16(p.key) else 1


class _Tree:
    """TreeNode's red-black insertion and root handling, for one bin."""

    @staticmethod
    def rotate_left(root: _Node, p: _Node) -> _Node:
        r = p.right
        if r is not None:
            rl = p.right = r.left
            if rl is not None:
                rl.parent = p
            pp = r.parent = p.parent
            if pp is None:
                root = r
                r.red = False
            elif pp.left is p:
                pp.left = r
            else:
                pp.right = r
            r.left = p
            p.parent = r
        return root

    @staticmethod
    def rotate_right(root: _Node, p: _Node) -> _Node:
        left = p.left
        if left is not None:
            lr = p.left = left.right
            if lr is not None:
                lr.parent = p
            pp = left.parent = p.parent
            if pp is None:
                root = left
                left.red = False
            elif pp.right is p:
                pp.right = left
            else:
                pp.left = left
            left.right = p
            p.parent = left
        return root

    @classmethod
    def balance_insertion(cls, root: _Node, x: _Node) -> _Node:
        x.red = True
        while True:
            xp = x.parent
            if xp is None:
                x.red = False
                return x
            xpp = xp.parent
            if not xp.red or xpp is None:
                return root
            xppl = xpp.left
            if xp is xppl:
                xppr = xpp.right
                if xppr is not None and xppr.red:
                    xppr.red = False
                    xp.red = False
                    xpp.red = True
                    x = xpp
                else:
                    if x is xp.right:
                        x = xp
                        root = cls.rotate_left(root, x)
                        xp = x.parent
                        xpp = xp.parent if xp is not None else None
                    if xp is not None:
                        xp.red = False
                        if xpp is not None:
                            xpp.red = True
                            root = cls.rotate_right(root, xpp)
            else:
                if xppl is not None and xppl.red:
                    xppl.red = False
                    xp.red = False
                    xpp.red = True
                    x = xpp
                else:
                    if x is xp.left:
                        x = xp
                        root = cls.rotate_right(root, x)
                        xp = x.parent
                        xpp = xp.parent if xp is not None else None
                    if xp is not None:
                        xp.red = False
                        if xpp is not None:
                            xpp.red = True
                            root = cls.rotate_left(root, xpp)

    @staticmethod
    def move_root_to_front(table: list[_Node | None], root: _Node) -> None:
        index = root.hash & (len(table) - 1)
        first = table[index]
        if root is not first:
            table[index] = root
            rp = root.prev
            rn = root.next
            if rn is not None:
                rn.prev = rp
            if rp is not None:
                rp.next = rn
            if first is not None:
                first.prev = root
            root.next = first
            root.prev = None

    @classmethod
    def treeify(cls, table: list[_Node | None], head: _Node) -> None:
        root: _Node | None = None
        x: _Node | None = head
        while x is not None:
            nxt = x.next
            x.left = x.right = None
            x.tree = True
            if root is None:
                x.parent = None
                x.red = False
                root = x
            else:
                p = root
                while True:
                    d = _direction(x, p)
                    xp = p
                    child = p.left if d <= 0 else p.right
                    if child is None:
                        x.parent = xp
                        if d <= 0:
                            xp.left = x
                        else:
                            xp.right = x
                        root = cls.balance_insertion(root, x)
                        break
                    p = child
            x = nxt
        assert root is not None
        cls.move_root_to_front(table, root)

    @classmethod
    def put(cls, table: list[_Node | None], first: _Node, x: _Node) -> None:
        """putTreeVal for a new key (an existing one never reaches here)."""
        root = first
        while root.parent is not None:
            root = root.parent
        p = root
        while True:
            d = _direction(x, p)
            xp = p
            child = p.left if d <= 0 else p.right
            if child is None:
                xpn = xp.next
                x.tree = True
                x.next = xpn
                if d <= 0:
                    xp.left = x
                else:
                    xp.right = x
                xp.next = x
                x.parent = x.prev = xp
                if xpn is not None:
                    xpn.prev = x
                cls.move_root_to_front(table, cls.balance_insertion(root, x))
                return
            p = child


def _untreeify(head: _Node) -> _Node:
    node: _Node | None = head
    while node is not None:
        node.tree = False
        node.parent = node.left = node.right = node.prev = None
        node = node.next
    return head


class _HashMap:
    def __init__(self) -> None:
        self.table: list[_Node | None] = []
        self.size = 0
        self.threshold = 0
        self.nodes: dict[str, _Node] = {}

    def put(self, key: str) -> None:
        if key in self.nodes:  # an existing key keeps its node (and its place)
            return
        if not self.table:
            self.resize()
        h = spread(key)
        node = _Node(key, h)
        self.nodes[key] = node
        table = self.table
        i = h & (len(table) - 1)
        p = table[i]
        if p is None:
            table[i] = node
        elif p.tree:
            _Tree.put(table, p, node)
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
            prev: _Node | None = None
            node: _Node | None = head
            while node is not None:
                node.tree = True
                node.prev = prev
                prev = node
                node = node.next
            _Tree.treeify(self.table, head)

    def resize(self) -> None:
        old = self.table
        cap = len(old) * 2 if old else 16
        self.threshold = cap * 3 // 4
        table: list[_Node | None] = [None] * cap
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
    def split_chain(e: _Node | None, bit: int) -> tuple[_Node | None, _Node | None]:
        heads: list[_Node | None] = [None, None]
        tails: list[_Node | None] = [None, None]
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

    def split(self, b: _Node, index: int, bit: int) -> None:
        heads: list[_Node | None] = [None, None]
        tails: list[_Node | None] = [None, None]
        counts = [0, 0]
        e: _Node | None = b
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
                self.table[slot] = _untreeify(head)
            else:
                self.table[slot] = head
                if heads[1 - side] is not None:  # else the tree moved whole, root first
                    _Tree.treeify(self.table, head)

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

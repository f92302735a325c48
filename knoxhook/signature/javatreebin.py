"""The nodes of a ``java.util.HashMap`` bin, and TreeNode's red-black tree operations.

A bin that reaches 9 nodes in a table of at least 64 buckets becomes a red-black tree
(``HashMap.TreeNode``). It still iterates along the ``next`` links, but treeifying moves
the tree's root to the front and a key added to a tree is linked right after its tree
parent, so the iteration order depends on the tree: these functions follow OpenJDK's
``treeify``, ``putTreeVal``, ``balanceInsertion``, ``rotateLeft``/``rotateRight``,
``moveRootToFront`` and ``untreeify`` step for step (``javahashmap`` uses them).
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _signed(h: int) -> int:
    return h - (1 << 32) if h >> 31 else h


def _utf16(key: str) -> bytes:
    # big-endian UTF-16 compares bytewise as String.compareTo compares code units
    return key.encode("utf-16-be", "surrogatepass")


@dataclass(eq=False)
class Node:
    key: str
    hash: int  # unsigned spread hash
    next: Node | None = None
    # tree bins only
    parent: Node | None = None
    left: Node | None = None
    right: Node | None = None
    prev: Node | None = None
    red: bool = False
    tree: bool = False
    shash: int = field(init=False)  # signed: TreeNode compares hashes as Java ints

    def __post_init__(self) -> None:
        self.shash = _signed(self.hash)


def direction(k: Node, p: Node) -> int:
    """-1 to go left of ``p``, 1 right (hash first, then String.compareTo)."""
    if p.shash > k.shash:
        return -1
    if p.shash < k.shash:
        return 1
    return -1 if _utf16(k.key) < _utf16(p.key) else 1


class Tree:
    """TreeNode's red-black insertion and root handling, for one bin."""

    @staticmethod
    def rotate_left(root: Node, p: Node) -> Node:
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
    def rotate_right(root: Node, p: Node) -> Node:
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
    def balance_insertion(cls, root: Node, x: Node) -> Node:
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
    def move_root_to_front(table: list[Node | None], root: Node) -> None:
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
    def treeify(cls, table: list[Node | None], head: Node) -> None:
        root: Node | None = None
        x: Node | None = head
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
                    d = direction(x, p)
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
    def put(cls, table: list[Node | None], first: Node, x: Node) -> None:
        """putTreeVal for a new key (an existing one never reaches here)."""
        root = first
        while root.parent is not None:
            root = root.parent
        p = root
        while True:
            d = direction(x, p)
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


def untreeify(head: Node) -> Node:
    node: Node | None = head
    while node is not None:
        node.tree = False
        node.parent = node.left = node.right = node.prev = None
        node = node.next
    return head

#!/usr/bin/env python3
"""List the module-level imports of a crate and report import cycles.

Usage: tools/module-cycles.py CRATE_SRC_DIR [--graph]

A module is a file (`a/b.rs` or `a/b/mod.rs` is `a::b`). An edge A -> B is any
`crate::B...` or `super::...` path used in A outside its `#[cfg(test)]` part,
resolved to the longest module that exists. Edges between a module and its
own ancestors or descendants are left out: a parent declaring its children
and a child using its parent's helpers are one unit. Exit status 1 if any
cycle (strongly connected component of two or more modules) remains.
"""
import os
import re
import sys


def module_of(root, path):
    rel = os.path.relpath(path, root)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib", "main"):
        rel = rel[:-1]
    return tuple(rel)


def non_test_text(text):
    # Everything from the first `#[cfg(test)]` item on is test code.
    cut = text.find("#[cfg(test)]")
    text = text if cut < 0 else text[:cut]
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def paths_in(text):
    """Paths used in the text, with `use` groups expanded one level."""
    for m in re.finditer(r"\b((?:crate|super)(?:::\w+)*)::\{([^}]*)\}", text):
        for item in m.group(2).split(","):
            item = item.strip().split(" as ")[0].strip()
            if item:
                yield m.group(1) + "::" + item
    for m in re.finditer(r"\b((?:crate|super)(?:::\w+)+)", text):
        yield m.group(1)


def ancestry(a, b):
    return a[: len(b)] == b or b[: len(a)] == a


def main():
    root = sys.argv[1]
    modules = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if f.endswith(".rs"):
                p = os.path.join(dirpath, f)
                modules[module_of(root, p)] = p
    edges = {m: set() for m in modules}
    for m, p in modules.items():
        with open(p) as fh:
            text = non_test_text(fh.read())
        for path in paths_in(text):
            parts = path.split("::")
            base = ()
            if parts[0] == "super":
                ups = 0
                while parts and parts[0] == "super":
                    ups += 1
                    parts = parts[1:]
                base = m[: len(m) - ups]
            else:
                parts = parts[1:]
            target = base
            for part in parts:
                if base + (part,) in modules or any(k[: len(target) + 1] == target + (part,) for k in modules):
                    target = target + (part,)
                else:
                    break
            while target not in modules and target:
                target = target[:-1]
            if target != m and not ancestry(target, m):
                edges[m].add(target)

    name = lambda m: "::".join(m) or "crate"
    if "--graph" in sys.argv:
        for m in sorted(edges):
            print(f"{name(m)} -> {', '.join(sorted(name(t) for t in edges[m])) or '-'}")

    # Tarjan's strongly connected components.
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    for comp in sccs:
        print("cycle: " + " <-> ".join(name(m) for m in comp))
    sys.exit(1 if sccs else 0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Order functions by how often a callgrind run called them.

    bench/hot_order.py CALLGRIND_OUT NAMES  >ORDERED

NAMES holds one mangled function name per line (the functions to place);
they are written back most-called first, ties in byte order. A name the run
never called (an entry point, or one kept from an older list) counts 0.

Why calls and not instructions: a function that runs on every request is
called at least once per request, however few instructions it has, while
start-up code runs once however long it takes. The functions of the request
path thus come first and sit together (bench/hot-functions.sh), and the
check of a build against the list can weigh the head of the list most.

The file format: `fn=`/`cfn=` lines name a function, compressed as `(id)
name` on first use and `(id)` after; `calls=COUNT ...` follows a `cfn=` line
and counts the calls of that callee from the current function.
"""

import re
import sys

NAMED = re.compile(r"^c?fn=\((\d+)\)(?: (.*))?$")


def call_counts(path):
    names = {}
    calls = {}
    callee = None
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith(("fn=", "cfn=")):
                m = NAMED.match(line.rstrip("\n"))
                if not m:
                    continue
                ident, name = m.group(1), m.group(2)
                if name is not None:
                    names[ident] = name
                if line.startswith("cfn="):
                    callee = names.get(ident)
            elif line.startswith("calls=") and callee is not None:
                count = int(line[len("calls=") :].split()[0])
                calls[callee] = calls.get(callee, 0) + count
    return calls


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    calls = call_counts(sys.argv[1])
    with open(sys.argv[2], encoding="utf-8") as f:
        names = {line.rstrip("\n") for line in f if line.strip()}
    # Byte order among equals (as `LC_ALL=C sort` gave before); the sort is
    # stable.
    wanted = sorted(names, key=lambda name: name.encode())
    wanted.sort(key=lambda name: -calls.get(name, 0))
    sys.stdout.write("".join(name + "\n" for name in wanted))


if __name__ == "__main__":
    main()

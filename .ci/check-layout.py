#!/usr/bin/env python3
"""Checks that a credbox binary was linked with its code layout (host/static-link.sh): the hot
functions named in the ordering file sit together at the start of .text. Unordered, they are
spread over the whole of it (about one in ten falls in the window checked here); ordered, all
of them do, save the few an assembly section drags elsewhere.

    .ci/check-layout.py BINARY ORDERING-FILE
"""
import subprocess
import sys

binary, ordering = sys.argv[1:3]
wanted = set(open(ordering).read().split())
if not wanted:
    sys.exit(f"check-layout: {ordering} is empty")
text_start = text_end = None
for line in subprocess.run(["readelf", "-S", "-W", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    fields = line.split("]", 1)[-1].split()
    if fields and fields[0] == ".text":
        text_start = int(fields[2], 16)
        text_end = text_start + int(fields[4], 16)
hot = []  # (address, size) of each hot function in .text
for line in subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True, check=True).stdout.splitlines():
    fields = line.split()
    if len(fields) == 4 and fields[3] in wanted and fields[2] in "tTwW":
        address = int(fields[0], 16)
        if text_start <= address < text_end:
            hot.append((address, int(fields[1], 16)))
if not hot:
    sys.exit(f"check-layout: none of the functions in {ordering} is in {binary}'s .text")
# The hot functions fill this much of .text when they are packed together (plus alignment slack).
window = text_start + sum(size for _, size in hot) * 5 // 4 + 65536
inside = sum(1 for address, _ in hot if address < window)
share = inside / len(hot)
print(f"check-layout: {inside} of {len(hot)} hot functions in the first {(window - text_start) // 1024} KB "
      f"of {(text_end - text_start) // 1024} KB of .text ({share:.0%})")
if share < 0.8:
    sys.exit("check-layout: the code is not laid out; see host/static-link.sh")

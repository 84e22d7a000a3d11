#!/usr/bin/env python3
"""Every test the docs name exists: a line such as `tests/host.rs` `the_allow_list_and_pins_are_enforced`
in docs/*.md or README.md must name a file that exists and a test in it (a `fn`, or a trial's
name string). A test renamed or moved without its doc fails `make lint`, so a security claim never
points at a test that is gone."""
import glob
import re
import sys

problems = []
for doc in sorted(glob.glob("docs/*.md")) + ["README.md"]:
    text = open(doc, encoding="utf-8").read()
    for match in re.finditer(r"`(tests/[\w/.-]+\.rs)`((?:[ ,]*(?:and )?`[a-z0-9_]+`)+)", text):
        path = match.group(1)
        line = text.count("\n", 0, match.start()) + 1
        try:
            source = open(path, encoding="utf-8").read()
        except OSError:
            problems.append(f"{doc}:{line}: {path} does not exist")
            continue
        for name in re.findall(r"`([a-z0-9_]+)`", match.group(2)):
            if not re.search(rf'fn {name}\b|"{name}"', source):
                problems.append(f"{doc}:{line}: {path} has no test {name}")
for problem in problems:
    print(problem, file=sys.stderr)
if problems:
    print(f"{len(problems)} test(s) named in the docs do not exist: rename them there too", file=sys.stderr)
    sys.exit(1)

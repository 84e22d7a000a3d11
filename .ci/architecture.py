"""The house's rules, checked (docs/ARCHITECTURE.md), for the host and the guest:

* no module imports another in a circle (file by file, and top-level module by module);
* every top-level module imports only what its row of the "may import" tables in
  docs/ARCHITECTURE.md allows, and every module has a row (so the document stays true);
* no source file holds more than 400 lines of code outside its unit tests, or 450 in all;
* at most three imports run back up the layers (to a module described later);
* a platform `cfg` sits only in a platform module or on the line that picks one (a line that
  must differ elsewhere says why in a `// platform-only:` comment just above).

An import is a `crate::` or `super::` path (also through the crate root's re-exports; in the
binary, `credbox::` paths into the library) outside comments and unit tests (`mod tests`, inline
or in a `tests.rs` of its own).
Heuristic, but it errs towards seeing edges.

    python3 .ci/architecture.py            (from the repository root; exit 1 on any violation)
    python3 .ci/architecture.py --graph    (print each module's imports)
"""
import os
import re
import sys

MAX_CODE = 400
MAX_TOTAL = 450
MAX_UPWARD = 3
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def source_without_tests(text):
    """The text before the unit tests, without comment lines."""
    code = re.split(r"#\[cfg\(test\)\]\s*\n\s*mod tests", text)[0]
    return "\n".join(l for l in code.splitlines() if not l.strip().startswith("//"))


def crate_modules(src, skip=()):
    """{module path: source} for the .rs files under src (a module path is `a/b` for a/b.rs or
    a/b/mod.rs; `lib` and `main` are the roots)."""
    mods = {}
    for d, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.relpath(os.path.join(d, f), src)
            name = path[:-3]
            if name.endswith("/mod"):
                name = name[:-4]
            if name.split("/")[0] in skip:
                continue
            # Unit tests in a file of their own (`mod tests;`) may reach anything, as inline ones may.
            if name == "tests" or name.endswith("/tests"):
                continue
            mods[name] = open(os.path.join(src, path)).read()
    return mods


def root_reexports(lib_text):
    names = {}
    for module, items in re.findall(r"pub use (\w+)::\{([^}]*)\}", lib_text):
        for item in items.split(","):
            item = item.strip().split(" as ")[-1].strip()
            if item:
                names[item] = module
    for module, item in re.findall(r"pub use (\w+)::(\w+);", lib_text):
        names[item] = module
    # `pub use spawn::{..}` after `pub use capabilities::{spawn}`: the items live in `capabilities`.
    for item, module in list(names.items()):
        while module in names and names[module] != module:
            module = names[module]
        names[item] = module
    return names


def edges(mods, reexports, prefix="crate"):
    """{module: set of modules it imports} within one crate."""
    names = set(mods)

    def resolve(parts):
        if parts and parts[0] in reexports:
            return reexports[parts[0]]
        for k in range(len(parts), 0, -1):
            candidate = "/".join(parts[:k])
            if candidate in names:
                return candidate
        return None

    graph = {}
    for module, text in mods.items():
        src = source_without_tests(text)
        deps = set()
        for path in re.findall(prefix + r"::((?:\w+::)*\w+)", src):
            target = resolve(path.split("::"))
            if target:
                deps.add(target)
        for group in re.findall(r"use " + prefix + r"::\{([^}]*)\}", src, re.S):
            for item in group.split(","):
                target = resolve(item.strip().split("::"))
                if target:
                    deps.add(target)
        parent = module.rsplit("/", 1)[0] if "/" in module else ""
        for path in re.findall(r"super::((?:\w+::)*\w+)", src):
            target = resolve(([parent] if parent else []) + path.split("::"))
            if target:
                deps.add(target)
        for group in re.findall(r"use super::\{([^}]*)\}", src, re.S):
            for item in group.split(","):
                target = resolve(([parent] if parent else []) + item.strip().split("::"))
                if target:
                    deps.add(target)
        deps.discard(module)
        graph[module] = deps
    return graph


def cycles(graph):
    found = set()

    def visit(node, stack, on_stack):
        for dep in graph.get(node, ()):
            if dep in on_stack:
                found.add(tuple(stack[stack.index(dep):] + [dep]))
            elif dep not in done:
                visit(dep, stack + [dep], on_stack | {dep})
        done.add(node)

    done = set()
    for node in list(graph):
        if node not in done:
            visit(node, [node], {node})
    unique = {}
    for cycle in found:
        unique.setdefault(frozenset(cycle), cycle)
    return list(unique.values())


def top(module):
    return module.split("/")[0]


def top_graph(graph, roots=("lib",)):
    result = {}
    for module, deps in graph.items():
        if top(module) in roots:
            continue
        targets = {top(d) for d in deps if top(d) != top(module) and top(d) not in roots}
        result.setdefault(top(module), set()).update(targets)
    return result


def declared(heading):
    """The modules described under `heading` in docs/ARCHITECTURE.md, in the order listed (the
    layers, lowest first), each with the set its "*May import:*" line names: {module: set}.
    A module's paragraph starts with **`name`**; "*May import:* nothing." names none."""
    text = open(os.path.join(root, "docs/ARCHITECTURE.md")).read()
    part = text.split(heading, 1)
    if len(part) < 2:
        return {}
    section = re.split(r"\n##+ ", part[1], maxsplit=1)[0]
    table = {}
    for paragraph in re.split(r"\n\s*\n", section):
        paragraph = " ".join(paragraph.split())
        name = re.match(r"\*\*`([\w/]+)`\*\*", paragraph)
        if not name:
            continue
        allowed = paragraph.split("*May import:*", 1)
        if len(allowed) < 2:
            table[name.group(1)] = None
            continue
        table[name.group(1)] = set(re.findall(r"`([\w/]+)`", allowed[1]))
    return table


def check_crate(label, graph, table, problems, show):
    for cycle in cycles(graph):
        problems.append(f"{label}: a circle of modules: {' -> '.join(cycle)}")
    tops = top_graph(graph)
    for cycle in cycles(tops):
        problems.append(f"{label}: a circle of top-level modules: {' -> '.join(cycle)}")
    order = list(table)
    upward = 0
    for module, deps in sorted(tops.items()):
        if show:
            print(f"{label} {module}: {', '.join(sorted(deps)) or '-'}")
        if module not in table:
            problems.append(f"{label}: module `{module}` is not described in docs/ARCHITECTURE.md")
            continue
        if table[module] is None:
            problems.append(f"{label}: `{module}` has no *May import:* line in docs/ARCHITECTURE.md")
            continue
        for dep in sorted(deps - table[module]):
            problems.append(f"{label}: `{module}` imports `{dep}`, which docs/ARCHITECTURE.md does not let it")
        # An import of a module described later (higher) runs back up the layers.
        upward += sum(1 for dep in deps if dep in order and order.index(dep) > order.index(module))
    for module, allowed in table.items():
        if module not in tops:
            problems.append(f"{label}: docs/ARCHITECTURE.md describes `{module}`, which does not exist")
        for dep in sorted((allowed or set()) - set(table)):
            problems.append(f"{label}: `{module}` may import `{dep}`, which docs/ARCHITECTURE.md does not describe")
    if upward > MAX_UPWARD:
        problems.append(f"{label}: {upward} imports run back up the layers (at most {MAX_UPWARD})")
    if show:
        print(f"{label}: {upward} imports run back up the layers")


def check_sizes(src, problems):
    for d, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(d, f)
            text = open(path).read()
            total = text.count("\n")
            code = len(re.split(r"#\[cfg\(test\)\]\s*\n\s*mod tests", text)[0].splitlines())
            shown = os.path.relpath(path, root)
            if code > MAX_CODE:
                problems.append(f"{shown}: {code} lines of code outside its tests (at most {MAX_CODE})")
            if total > MAX_TOTAL:
                problems.append(f"{shown}: {total} lines (at most {MAX_TOTAL}, tests included)")


PLATFORM_CFG = re.compile(r"cfg!?\((?:not\()?(?:all\(|any\()?(?:windows|unix|target_os|target_family)")


def platform_file(path):
    """A platform module: `unix.rs`, `windows.rs`, anything under a `unix/`, `windows/` or
    `platform/` folder."""
    parts = path.replace(os.sep, "/").split("/")
    return parts[-1] in ("unix.rs", "windows.rs") or any(p in ("unix", "windows", "platform") for p in parts[:-1])


def check_cfgs(src, problems):
    """A platform `cfg` outside a platform module only picks a module (`mod`, `use`, `#[path]`),
    or marks a test; else the difference belongs behind the seam."""
    for d, _, files in os.walk(src):
        for f in files:
            path = os.path.join(d, f)
            if not f.endswith(".rs") or platform_file(os.path.relpath(path, src)):
                continue
            lines = open(path).read().splitlines()
            for i, line in enumerate(lines):
                if not PLATFORM_CFG.search(line) or "test" in line or line.strip().startswith("//"):
                    continue
                following = next((l.strip() for l in lines[i + 1:] if not l.strip().startswith("#[")), "")
                if re.match(r"(pub(\(\w+\))? )?(mod|use) ", following):
                    continue
                if i > 0 and "platform-only:" in lines[i - 1]:
                    continue
                shown = os.path.relpath(path, root)
                problems.append(f"{shown}:{i + 1}: a platform cfg outside a platform module; move the difference behind platform/ or a unix.rs/windows.rs")


def main():
    show = "--graph" in sys.argv
    problems = []
    host_src = os.path.join(root, "host/src")
    library = crate_modules(host_src, skip=("main", "cli"))
    host = edges(library, root_reexports(library["lib"]))
    # The binary: main.rs and cli/ over the library (`credbox::` paths), one module for the table.
    binary = {m: t for m, t in crate_modules(host_src).items() if top(m) in ("main", "cli")}
    reexports = root_reexports(library["lib"])
    tops = {top(m) for m in library}
    cli_deps = set()
    for text in binary.values():
        for path in re.findall(r"credbox::((?:\w+::)*\w+)", source_without_tests(text)):
            first = path.split("::")[0]
            if first in reexports:
                cli_deps.add(top(reexports[first]))
            elif first in tops:
                cli_deps.add(first)
    host["cli"] = cli_deps
    check_crate("host", host, declared("### Host modules"), problems, show)
    guest_src = os.path.join(root, "guest/src")
    guest_mods = crate_modules(guest_src)
    guest = edges(guest_mods, root_reexports(guest_mods["lib"]))
    check_crate("guest", guest, declared("### Guest modules"), problems, show)
    for src in (host_src, guest_src):
        check_sizes(src, problems)
        check_cfgs(src, problems)
    for problem in problems:
        print(problem)
    print(f"architecture: {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


main()

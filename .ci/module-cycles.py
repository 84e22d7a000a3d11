"""Fail when the host's modules import each other in a circle (docs/ARCHITECTURE.md: the arrows
run one way). A module is a file; an edge is a `crate::`/`super::` path (also through the crate
root's re-exports) outside comments and tests. Heuristic, but it errs towards seeing edges.

    python3 .ci/module-cycles.py host/src
"""
import re,os,sys
os.chdir(sys.argv[1] if len(sys.argv) > 1 else '.')
root='.'
mods={}
for d,_,fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p=os.path.join(d,f)[2:]
            name=p[:-3]
            if name.endswith('/mod'): name=name[:-4]
            mods[name]='\n'.join(l for l in open(p).read().split('#[cfg(test)]')[0].splitlines() if not l.strip().startswith('//'))
names=set(mods)
root_names={}
import re as _re
for mod_,items in _re.findall(r'pub use (\w+)::\{([^}]*)\}', open('lib.rs').read()):
    for it in items.split(','): root_names[it.strip()]=mod_
for mod_,it in _re.findall(r'pub use (\w+)::(\w+);', open('lib.rs').read()):
    root_names[it]=mod_
def resolve(base, parts):
    if len(parts)>=1 and parts[0] in root_names and not base.startswith(('main','cli')):
        return root_names[parts[0]]
    for k in range(len(parts),0,-1):
        cand='/'.join(parts[:k])
        if cand in names: return cand
    return None
graph={}
for m,src in mods.items():
    deps=set()
    for path in re.findall(r'crate::((?:\w+::)*\w+)', src):
        r=resolve(m,path.split('::'))
        if r: deps.add(r)
    # grouped use crate::{a, b::c}
    for grp in re.findall(r'use crate::\{([^}]*)\}', src, re.S):
        for item in grp.split(','):
            item=item.strip().split('::')
            r=resolve(m,item)
            if r: deps.add(r)
    parent=m.rsplit('/',1)[0] if '/' in m else ''
    for path in re.findall(r'super::((?:\w+::)*\w+)', src):
        parts=([parent] if parent else [])+path.split('::')
        r=resolve(m,parts)
        if r: deps.add(r)
    for grp in re.findall(r'use super::\{([^}]*)\}', src, re.S):
        for item in grp.split(','):
            parts=([parent] if parent else [])+item.strip().split('::')
            r=resolve(m,parts)
            if r: deps.add(r)
    deps.discard(m)
    # a child importing its parent mod.rs re-exports: count as parent
    graph[m]=deps
# main/cli are the binary crate: crate:: there means the bin crate
cycles=[]
def dfs(n,stack,seen):
    for d in graph.get(n,()):
        if d in stack:
            cycles.append(stack[stack.index(d):]+[d]); continue
        if d not in seen:
            seen.add(d); dfs(d,stack+[d],seen)
for n in graph: dfs(n,[n],{n})
uniq=set()
for c in cycles:
    key=tuple(sorted(set(c)))
    if key not in uniq:
        uniq.add(key); print(' -> '.join(c))
print(f'module cycles: {len(uniq)}')
sys.exit(1 if uniq else 0)

#!/usr/bin/env bash
# Build the fuzzers' seed corpora from the SDK conformance fixtures (tests/fixtures/conformance) and
# fuzz/seeds/. Usage: fuzz/seed.sh OUTPUT_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1
conformance=${CREDBOX_CONFORMANCE_DIR:-tests/fixtures/conformance}
mkdir -p "$out"/{profile_parser,command_line,output_validator,cache_entry}
cp fuzz/seeds/cache_entry/* "$out/cache_entry/"
cp fuzz/seeds/output_validator/* "$out/output_validator/"
cp fuzz/seeds/profile_parser/* "$out/profile_parser/"
cp "$conformance"/aws-sdk-go/aws/credentials/processcreds/testdata/*.json "$out/output_validator/"
python3 - "$conformance" "$out" <<'PY'
import glob, json, os, re, sys
conformance, out = sys.argv[1], sys.argv[2]
def write(target, name, data):
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
suite = json.load(open(f"{conformance}/smithy-rs/aws-runtime/test-data/profile-parser-tests.json"))
for i, case in enumerate(suite["tests"]):
    inp = case["input"]
    write("profile_parser", f"sep-{i}", inp.get("configFile", "") + "\0" + inp.get("credentialsFile", ""))
files = [p for p in glob.glob(f"{conformance}/**/*", recursive=True)
         if os.path.isfile(p) and not p.endswith((".json", "_expected", ".md"))]
for i, path in enumerate(files):
    data = open(path, "rb").read()
    write("profile_parser", f"file-{i}", data)
    for j, m in enumerate(re.finditer(rb"credential_process\s*=\s*(.*)", data)):
        write("command_line", f"cmd-{i}-{j}", m.group(1))
for i, value in enumerate(['"/opt/my dir/helper" --user \'me\'', "$HOME/bin/h", "~/h", "a | b", "./h", "'x", "h \\$y"]):
    write("command_line", f"hand-{i}", value)
PY
echo "seeds: $(find "$out" -type f | wc -l) files in $out"

#!/usr/bin/env bash
# A one-hop role profile (static keys -> AssumeRole) timed side by side with botocore resolving
# the same profile (what `aws configure export-credentials` does), against moto's STS on loopback.
# credbox cold: --no-cache, so every run signs and sends an AssumeRole; credbox warm: the cached
# role credentials; botocore has no cache across processes, so every run calls STS. Run from the
# repository root after `make clients` (moto and botocore in target/clients/venv):
#   bench/roles.sh            (RUNS=N to change the number of runs, default 50)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$root/target/bench-roles
runs=${RUNS:-50}
mkdir -p "$work"
command -v hyperfine >/dev/null || { echo "installing hyperfine (Debian)"; apt-get install -y -qq hyperfine >/dev/null; }
[ -x target/clients/venv/bin/moto_server ] || tests/clients/setup.sh

echo "== building credbox (release, static-pie)"
make -s static >/dev/null
credbox=$root/target/release/credbox

echo "== starting moto's STS on loopback"
target/clients/venv/bin/moto_server -H 127.0.0.1 -p 0 >"$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q "Running on http" "$work/moto.log" && break; sleep 0.1; done
url=$(grep -o "http://127.0.0.1:[0-9]*" "$work/moto.log" | head -1)
echo "   $url"

export AWS_CONFIG_FILE=$work/config AWS_SHARED_CREDENTIALS_FILE=$work/no-credentials
export CREDBOX_CACHE_DIR=$work/cache AWS_ENDPOINT_URL_STS=$url
printf '[profile base]\naws_access_key_id = AKIAEXAMPLEBASE00001\naws_secret_access_key = basesecret\n\n[profile prod]\nrole_arn = arn:aws:iam::210987654321:role/Deploy\nsource_profile = base\nregion = us-east-1\n' >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"
chmod 600 "$AWS_CONFIG_FILE"
"$credbox" export --profile prod >/dev/null   # warm the cache

hyperfine -N -w 5 -r "$runs" --export-json "$work/roles.json" \
  -n "credbox export (warm: cached role)" "$credbox export --profile prod" \
  -n "credbox export --no-cache (AssumeRole)" "$credbox export --profile prod --no-cache" \
  -n "botocore (AssumeRole)" "$root/target/clients/venv/bin/python $root/tests/clients/botocore_assume_role.py prod"

python3 - "$work/roles.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
botocore = results[2]["median"]
print(f"\n{'command':45} {'median':>10} {'vs botocore':>12}")
for r in results:
    print(f"{r['command']:45} {r['median'] * 1000:8.2f} ms {r['median'] / botocore:11.3f}x")
PY

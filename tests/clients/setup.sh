#!/usr/bin/env bash
# Install the real SDK clients the endpoint tests talk to, under target/clients:
#   botocore and moto's server from PyPI (always: the serve and role tests need them), and, where Node.js exists,
#   @aws-sdk/credential-provider-http (the endpoint tests) and jco with its WASI shim (running the
#   guest component in Node) from npm. Idempotent; `make test` runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."
work=target/clients
mkdir -p "$work"
if [ ! -x "$work/venv/bin/python" ]; then python3 -m venv "$work/venv"; fi
"$work/venv/bin/python" -c "import botocore" 2>/dev/null ||
  "$work/venv/bin/pip" install -q --disable-pip-version-check "botocore>=1.34,<2"
# moto's server: a real STS (and IAM) on loopback for the role tests (tests/roles.rs).
"$work/venv/bin/python" -c "import moto.server, flask_cors" 2>/dev/null ||
  "$work/venv/bin/pip" install -q --disable-pip-version-check "moto[server]>=5.1,<6"
# CI runs every test: where Node.js is missing, install Debian's, or fail here, loudly.
if [ -n "${CI:-}" ] && ! command -v npm >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null) ||
    { echo "CI: node/npm are missing and could not be installed; the JS SDK and jco tests need them" >&2; exit 1; }
fi
# The completion tests check each script with its shell: under CI, install zsh and fish too.
if [ -n "${CI:-}" ] && ! { command -v zsh && command -v fish; } >/dev/null 2>&1; then
  (apt-get install -y -qq zsh fish >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq zsh fish >/dev/null; }) ||
    { echo "CI: zsh/fish are missing and could not be installed; the completion test needs them" >&2; exit 1; }
fi
if command -v npm >/dev/null 2>&1; then
  mkdir -p "$work/js"
  # The client script sits beside node_modules: Node resolves imports from the script's folder.
  cp tests/clients/package.json tests/clients/js_client.mjs "$work/js/"
  [ -d "$work/js/node_modules/@aws-sdk/credential-provider-http" ] &&
    [ -x "$work/js/node_modules/.bin/jco" ] ||
    (cd "$work/js" && npm install --silent --no-audit --no-fund >/dev/null)
else
  echo "node/npm not found: the JavaScript SDK endpoint test and the jco test will be skipped"
fi

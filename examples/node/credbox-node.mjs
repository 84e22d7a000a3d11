// Run credbox's policy component in Node.js: no credbox host, no Rust. The component was turned
// into JavaScript by `jco transpile credbox.wasm -o OUT --instantiation async --name credbox`;
// this file supplies its imports (docs/EMBEDDING.md) and resolves one profile.
//
//   node credbox-node.mjs OUT CONFIG_FILE PROFILE
//
// Prints one JSON line: {"accessKeyId", "expiration", "accountId"} (never the secret), or
// {"error": <the WIT error case>, ...} and exit code 1.
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { constants } from "node:os";
import { pathToFileURL } from "node:url";
import { cli, clocks, io } from "@bytecodealliance/preview2-shim";

const [outDir, configPath, profile] = process.argv.slice(2);
const out = pathToFileURL(`${outDir}/`);

// The host's ceilings, as credbox's own host sets them.
const STDOUT_CAP = 64 * 1024;
const MAX_TIMEOUT_MS = 60_000;

/** A WIT `spawn-error`, `call-error`, `sts-error` or `prompt-error`: jco turns a thrown Error's `payload` into the `err` of the result. */
function spawnError(tag, val) {
  const error = new Error(tag);
  error.payload = { tag, val };
  return error;
}

/** credbox:provider/spawn#run — argv only, no shell, bounded time and output. */
function run({ command, timeoutMs }) {
  if (command.tag !== "argv") {
    throw spawnError("denied", "this host runs argv commands only; it never starts a shell");
  }
  const [program, ...args] = command.val;
  const timeout = Math.min(Number(timeoutMs), MAX_TIMEOUT_MS);
  const child = spawnSync(program, args, {
    shell: false,
    timeout,
    killSignal: "SIGKILL",
    maxBuffer: STDOUT_CAP,
    stdio: ["inherit", "pipe", "pipe"],
  });
  if (child.error?.code === "ETIMEDOUT") throw spawnError("timed-out", BigInt(timeout));
  if (child.error?.code === "ENOBUFS") throw spawnError("output-too-large", BigInt(STDOUT_CAP));
  if (child.error) throw spawnError("failed", `could not start ${program}: ${child.error.code ?? child.error.message}`);
  const status =
    child.status !== null
      ? { tag: "code", val: child.status }
      : { tag: "signal", val: constants.signals[child.signal] ?? -1 };
  return {
    status,
    stdout: new Uint8Array(child.stdout),
    stderrTail: child.stderr.toString("utf8").slice(-2048),
  };
}

/** credbox:provider/plugins — this host loads no credential plugins: every call is `denied`. */
function noPlugins() {
  throw spawnError("denied", "this host loads no credential plugins");
}

/** credbox:provider/sts — this host assumes no roles: every call is `denied`. */
function noRoles() {
  throw spawnError("denied", "this host assumes no roles");
}

/** credbox:provider/prompt — this host asks nobody: every MFA prompt is `unavailable`. */
function noPrompts() {
  throw spawnError("unavailable", "this host has no terminal to ask on");
}

// Everything else the component imports is what Rust's std needs; grant it empty: no environment
// variables, no arguments. (The shim's own environment would hand over process.env.)
const imports = {
  "credbox:provider/spawn": { run },
  "credbox:provider/plugins": { retrieve: noPlugins, isExpired: noPlugins },
  "credbox:provider/sts": { assumeRole: noRoles },
  "credbox:provider/prompt": { mfaCode: noPrompts },
  "wasi:cli/environment": { getEnvironment: () => [], getArguments: () => [], initialCwd: () => undefined },
  "wasi:cli/exit": cli.exit,
  "wasi:cli/stdin": cli.stdin,
  "wasi:cli/stdout": cli.stdout,
  "wasi:cli/stderr": cli.stderr,
  "wasi:cli/terminal-input": cli.terminalInput,
  "wasi:cli/terminal-output": cli.terminalOutput,
  "wasi:cli/terminal-stdin": cli.terminalStdin,
  "wasi:cli/terminal-stdout": cli.terminalStdout,
  "wasi:cli/terminal-stderr": cli.terminalStderr,
  "wasi:clocks/monotonic-clock": clocks.monotonicClock,
  "wasi:clocks/wall-clock": clocks.wallClock,
  "wasi:io/error": io.error,
  "wasi:io/poll": io.poll,
  "wasi:io/streams": io.streams,
};

const { instantiate } = await import(new URL("credbox.js", out));
const getCoreModule = async (path) => WebAssembly.compile(await readFile(new URL(path, out)));
const credbox = await instantiate(getCoreModule, imports);

const platform = process.platform === "win32" ? "windows" : "unix";

try {
  const files = {
    config: { path: configPath, text: await readFile(configPath, "utf8") },
    credentials: { path: "(no credentials file)", text: "" },
    // Which system's command-line rules apply: this host runs argv as Node's spawn does here.
    platform,
  };
  // No environment: a role profile's endpoint would come from the config file alone.
  const source = credbox.profiles.resolve(files, profile, []);
  if (source.tag === "role") {
    // Assuming a role needs the sts import, which this host does not provide.
    console.error(`credbox-node: profile ${profile} is a role (${source.val.roles.map((r) => r.roleArn).join(" -> ")}); this example host assumes no roles`);
    process.exit(6);
  }
  const credentials =
    source.tag === "static-keys"
      ? source.val
      : new credbox.provider.CredentialProvider(source.val, {
          minTtlSeconds: 900n,
          timeoutMs: 60_000n,
          allowShell: false,
          platform,
        }).retrieve();
  console.log(
    JSON.stringify({
      accessKeyId: credentials.accessKeyId,
      expiration: credentials.expiration?.toString(),
      accountId: credentials.accountId,
    }),
  );
} catch (error) {
  // An exported `result` error arrives as a thrown {tag, val} (a WIT `error`).
  const wit = error.payload ?? error;
  if (typeof wit?.tag !== "string") throw error;
  console.log(JSON.stringify({ error: wit.tag, detail: wit.val }, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
  process.exit(1);
}

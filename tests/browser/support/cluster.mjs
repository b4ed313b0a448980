// Starts the real herald-control and herald-node binaries on 127.0.0.1 for the browser tests,
// and runs heraldctl against them. Binary paths come from the environment (tests/browser/run.sh).
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const bins = {
  control: process.env.HERALD_CONTROL_BIN,
  node: process.env.HERALD_NODE_BIN,
  ctl: process.env.HERALDCTL_BIN,
};

/** Polls `check` (async, truthy = done) every `everyMs` until `timeoutMs`; throws with `what`. */
export async function waitFor(what, check, { timeoutMs = 15000, everyMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A port free right now on 127.0.0.1 (kept by the caller for restarts on the same port). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function startProcess(bin, args, name) {
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  child.output = "";
  const keep = (chunk) => {
    child.output += chunk.toString();
    if (child.output.length > 200000) child.output = child.output.slice(-100000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  child.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  child.label = name;
  return child;
}

async function stopProcess(child, signal = "SIGTERM") {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
  await child.exited;
  clearTimeout(timer);
}

export class Cluster {
  /** `config`: herald-control's JSON config (auth, limits); `nodeArgs`: herald-node's flags. */
  static async start(config = { auth: { allow_anonymous: true } }, { nodeArgs = [] } = {}) {
    const c = new Cluster();
    c.nodeArgs = nodeArgs;
    c.dir = mkdtempSync(path.join(os.tmpdir(), "herald-browser-"));
    c.apiKey = "browser-test-admin-key-" + Math.random().toString(36).slice(2).padEnd(16, "x");
    writeFileSync(path.join(c.dir, "control.json"), JSON.stringify(config));
    c.grpcPort = await freePort();
    c.wsPort = await freePort();
    c.control = startProcess(
      bins.control,
      ["--grpc-listen", `127.0.0.1:${c.grpcPort}`, "--http-listen", "127.0.0.1:0", "--data-dir", path.join(c.dir, "data"),
       "--config", path.join(c.dir, "control.json"), "--admin-key", c.apiKey],
      "herald-control",
    );
    await waitFor("herald-control to listen", () => c.control.output.includes("listening on"), {
      timeoutMs: 30000,
    });
    await waitFor("herald-control's HTTP port", () => /http on [0-9.]+:[0-9]+/.test(c.control.output), {
      timeoutMs: 30000,
    });
    c.controlHttpBase = "http://" + /http on ([0-9.]+:[0-9]+)/.exec(c.control.output)[1];
    await c.startNode();
    return c;
  }

  get wsUrl() {
    return `ws://127.0.0.1:${this.wsPort}/ws`;
  }

  get httpBase() {
    return `http://127.0.0.1:${this.wsPort}`;
  }

  /** Starts herald-node on the cluster's WebSocket port and waits for /health 200. */
  async startNode() {
    this.node = startProcess(
      bins.node,
      ["--listen", `127.0.0.1:${this.wsPort}`, "--control", `127.0.0.1:${this.grpcPort}`,
       "--node-secret-file", path.join(this.dir, "data", "node.secret"), ...this.nodeArgs],
      "herald-node",
    );
    await waitFor("herald-node /health 200", async () => {
      if (this.node.exitCode !== null) throw new Error("herald-node exited:\n" + this.node.output);
      const res = await fetch(`${this.httpBase}/health`).catch(() => null);
      return res !== null && res.status === 200;
    }, { timeoutMs: 30000 });
  }

  /** SIGTERM: the node closes its clients with 1012 and exits. */
  async stopNode() {
    await stopProcess(this.node);
  }

  async ctl(...args) {
    const { stdout } = await execFileAsync(bins.ctl, args, {
      env: { ...process.env, HERALD_API_KEY: this.apiKey, HERALD_CONTROL: `127.0.0.1:${this.grpcPort}` },
      timeout: 60000,
    });
    return stdout;
  }

  async stop() {
    await stopProcess(this.node);
    await stopProcess(this.control);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

import { spawn, execFileSync, ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

// Starts what the dashboard tests purge: an origin, a real Varnish (with the shipped VCL) in
// front of it, and a fleet of deliberately slow simulated edges; then registers them with the
// server under test through the operator CLI.
const root = path.resolve(__dirname, "..");
const purger = path.join(root, "target/release/purger");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

// `count` consecutive free ports below the kernel's ephemeral range (32768 and up), so that no
// outgoing connection of the runs before (the bench smoke opens thousands) can hold one of them.
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await canListen(base + i);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports below 32000`);
}

async function waitForPort(port: number, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.end();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port}`);
}

function cli(args: string[], input?: string): string {
  return execFileSync(purger, args, {
    cwd: root,
    input,
    env: { ...process.env, PURGER_DATA_DIR: process.env.PURGER_E2E_DATA_DIR ?? "/tmp/purger-e2e-data" },
  }).toString();
}

export default async function globalSetup() {
  const children: ChildProcess[] = [];
  let fetches = 0;
  const origin = http.createServer((req, res) => {
    fetches += 1;
    // Objects under /xkey/ carry the cache tag e2e-tag, as an origin tags them for Varnish.
    const tags = (req.url ?? "").startsWith("/xkey/") ? { xkey: "e2e-tag" } : {};
    res.writeHead(200, { "Cache-Control": "max-age=3600", "Content-Type": "text/plain", ...tags });
    res.end(`origin ${req.url} #${fetches}`);
  });
  const originPort = await freePort();
  await new Promise<void>((resolve) => origin.listen(originPort, "127.0.0.1", resolve));

  const work = fs.mkdtempSync(path.join(os.tmpdir(), "purger-e2e-varnish-"));
  const vcl = fs
    .readFileSync(path.join(root, "docs/edges/varnish.vcl"), "utf8")
    .replace('.port = "8080";', `.port = "${originPort}";`);
  fs.writeFileSync(path.join(work, "purger.vcl"), vcl);
  const varnishPort = await freePort();
  const varnish = spawn(
    "varnishd",
    ["-F", "-j", "none", "-a", `127.0.0.1:${varnishPort}`, "-f", path.join(work, "purger.vcl"), "-n", path.join(work, "n"), "-s", "malloc,16m"],
    { stdio: "ignore" },
  );
  children.push(varnish);
  await waitForPort(varnishPort, "varnishd");

  const slowBase = await freePortRange(20);
  const slow = spawn(purger, ["edge-sim", "--nodes", "20", "--latency-ms", "100", "--latency-step-ms", "18", "--base-port", String(slowBase)], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(slow);
  await waitForPort(slowBase, "slow edges");

  cli(["nodes", "import", "-", "--group", "real-varnish", "--protocol", "varnish"], `127.0.0.1,${varnishPort}\n`);
  const slowCsv = Array.from({ length: 20 }, (_, i) => `127.0.0.1,${slowBase + i}`).join("\n");
  cli(["nodes", "import", "-", "--group", "slow-edges", "--protocol", "varnish"], slowCsv);
  cli(["domain", "add", "cdn.example.com", "--user", "demo", "--group", "real-varnish"]);
  cli(["domain", "add", "slow.example.com", "--user", "demo", "--group", "slow-edges"]);

  process.env.PURGER_E2E_VARNISH_PORT = String(varnishPort);
  return async () => {
    for (const child of children) child.kill("SIGTERM");
    origin.close();
  };
}

// The real daemon: `archy serve` on a free loopback port, a temp state dir,
// the demo catalog and the dashboard's files. Its log goes to the artifacts.

import { spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import net from 'node:net';
import { until } from './wait.mjs';

export class Daemon {
  constructor({ binary, repo, stateDir, engine, logFile }) {
    Object.assign(this, { binary, repo, stateDir, engine, logFile });
    this.port = null;
    this.child = null;
  }

  get url() {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** Start (or restart, on the same port and state) and wait until it answers. */
  async start() {
    this.port ??= await freePort();
    const log = createWriteStream(this.logFile, { flags: 'a' });
    this.child = spawn(this.binary, [
      'serve',
      '--state-dir', this.stateDir,
      '--catalog', `${this.repo}/apps/demo`,
      '--engine', this.engine,
      '--listen', `127.0.0.1:${this.port}`,
      '--dashboard', `${this.repo}/rpc/dashboard`,
    ], { cwd: this.repo, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout.pipe(log);
    this.child.stderr.pipe(log);
    const child = this.child;
    let exited = null;
    child.on('exit', (code, signal) => { exited = signal ?? `exit code ${code}`; });
    await until(`archy serve answers on ${this.url}`, async () => {
      if (exited) throw new Error(`archy serve stopped before answering (${exited}); see ${this.logFile}`);
      const response = await fetch(`${this.url}auth/session`).catch(() => null);
      return response?.ok;
    }, 60_000);
  }

  /** SIGTERM, as a service manager stops it; containers keep running. */
  async stop() {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const stopped = await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)]);
    if (!stopped) child.kill('SIGKILL');
    this.child = null;
  }

  /** A JSON-RPC call with the local token (no browser): for clean-up. */
  async call(method, params) {
    const token = readFileSync(`${this.stateDir}/auth/local-token`, 'utf8').trim();
    const response = await fetch(`${this.url}rpc/v1`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
    });
    const reply = await response.json();
    if (reply.error) throw new Error(`${method}: ${reply.error.message}`);
    return reply.result;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

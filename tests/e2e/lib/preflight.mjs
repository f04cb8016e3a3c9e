// Before anything starts: Chromium, the archy binary, the engine and the base
// image must be there. Each missing piece fails with what to do about it.

import { accessSync, constants, existsSync } from 'node:fs';
import http from 'node:http';
import { until } from './wait.mjs';

export const CHROMIUM = '/usr/bin/chromium';

export class PreflightError extends Error {}

export function requireChromium() {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new PreflightError(`Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (\`just e2e\` does).`);
  }
}

export function requireArchy(binary) {
  if (!existsSync(binary)) {
    throw new PreflightError(`The archy binary is missing at ${binary}: build it with \`cargo build --bin archy\` (\`just e2e\` does), or set ARCHY_BIN.`);
  }
}

/** The engine socket the daemon would find first, among those that answer. */
export async function requireEngine() {
  const candidates = engineCandidates();
  for (const socket of candidates) {
    if (!existsSync(socket)) continue;
    const ping = await engineGet(socket, '/_ping').catch(() => null);
    if (ping?.status === 200) return socket;
  }
  throw new PreflightError(
    `No container engine answers (tried ${candidates.join(', ')}): start Podman's API socket with \`scripts/setup.sh --socket\`.`);
}

function engineCandidates() {
  const fromUrl = (value) => value?.startsWith('unix://') ? value.slice('unix://'.length) : null;
  return [
    process.env.ARCHY_ENGINE,
    fromUrl(process.env.CONTAINER_HOST),
    fromUrl(process.env.DOCKER_HOST),
    process.env.XDG_RUNTIME_DIR && `${process.env.XDG_RUNTIME_DIR}/podman/podman.sock`,
    '/run/podman/podman.sock',
  ].filter(Boolean);
}

export async function requireBaseImage(socket) {
  const image = await engineGet(socket, '/images/localhost%2Farchy-base:latest/json');
  if (image.status !== 200) {
    throw new PreflightError('The base image localhost/archy-base:latest is missing: build it with `scripts/setup.sh`.');
  }
}

/**
 * demo-web's containers from another Archy (another engineer's test, a crashed
 * run) would be adopted by our fresh daemon and hold its ports. Give a running
 * test some time to finish with them, then refuse to start over them.
 */
export async function requireNoDemoWeb(socket, timeoutMs = 180_000) {
  const filters = encodeURIComponent(JSON.stringify({ label: ['archy.app=demo-web'] }));
  let names = [];
  try {
    await until('no demo-web container exists', async () => {
      const containers = await engineGet(socket, `/containers/json?all=true&filters=${filters}`);
      names = JSON.parse(containers.body).map((container) => container.Names.join(','));
      return names.length === 0;
    }, timeoutMs);
  } catch {
    throw new PreflightError(
      `demo-web containers exist on this engine (${names.join('; ')}) and another Archy owns them: uninstall demo-web there, or remove them with \`podman rm -f\`, then re-run.`);
  }
}

function engineGet(socketPath, path) {
  return new Promise((resolve, reject) => {
    const request = http.get({ socketPath, path, timeout: 5000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, body }));
    });
    request.on('timeout', () => request.destroy(new Error(`${socketPath} did not answer within 5 s`)));
    request.on('error', reject);
  });
}

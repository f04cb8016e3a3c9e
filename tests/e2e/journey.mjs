// The dashboard's end-to-end journey: the real `archy serve` on real Podman
// with the demo catalog, driven by a person's steps in headless Chromium.
// Every step leaves a screenshot in tests/e2e/artifacts/.
//
//   node journey.mjs            (from tests/e2e, after `npm ci`; `just e2e` does it all)
//   ARCHY_BIN=… to use another archy binary than target/debug/archy.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { Daemon } from './lib/daemon.mjs';
import { CHROMIUM, PreflightError, requireArchy, requireBaseImage, requireChromium, requireEngine, requireNoDemoWeb } from './lib/preflight.mjs';
import { until } from './lib/wait.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '../..');
const ARTIFACTS = path.join(HERE, 'artifacts');
const ARCHY_BIN = process.env.ARCHY_BIN ?? path.join(REPO, 'target/debug/archy');

const PASSWORD = 'correct horse battery';
const APP = 'demo-web';
const APP_PORT = 18080;
/** A first install builds two images on a busy machine. */
const INSTALL_TIMEOUT_MS = 300_000;
const TRANSITION_TIMEOUT_MS = 120_000;
const UI_TIMEOUT_MS = 15_000;

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 812 };

let stepNumber = 0;

async function main() {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });

  requireChromium();
  requireArchy(ARCHY_BIN);
  const engine = await requireEngine();
  await requireBaseImage(engine);
  await requireNoDemoWeb(engine);

  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'archy-e2e-'));
  const daemon = new Daemon({ binary: ARCHY_BIN, repo: REPO, stateDir, engine, logFile: path.join(ARTIFACTS, 'daemon.log') });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: DESKTOP });
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.setDefaultTimeout(UI_TIMEOUT_MS);

  let passed = false;
  try {
    await daemon.start();
    console.log(`archy serve on ${daemon.url} (state ${stateDir}, engine ${engine})`);
    await journey(page, daemon);
    assert.deepEqual(pageErrors, [], 'the page threw JavaScript errors');
    passed = true;
  } catch (error) {
    await page.screenshot({ path: path.join(ARTIFACTS, 'failure.png'), fullPage: true }).catch(() => {});
    console.error(`\n✗ ${error.message}`);
    if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
    console.error(`\nlast lines of ${path.join(ARTIFACTS, 'daemon.log')}:\n${tail(path.join(ARTIFACTS, 'daemon.log'), 25)}`);
  } finally {
    await browser.close();
    await removeDemoWeb(daemon, engine);
    await daemon.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  console.log(passed ? `\n✓ the journey passed; screenshots in ${ARTIFACTS}` : `\nscreenshots so far in ${ARTIFACTS}`);
  process.exitCode = passed ? 0 : 1;
}

async function journey(page, daemon) {
  const step = stepper(page);
  const card = page.locator(`li[data-app="${APP}"]`);
  const button = (name) => card.getByRole('button', { name: new RegExp(`^${name}\\b`) });
  const rpcCalls = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && request.url().endsWith('/rpc/v1')) rpcCalls.push(JSON.parse(request.postData()).method);
  });

  await step('first-run: the page asks to choose a password', async () => {
    await page.goto(daemon.url);
    await expectText(page.locator('#auth-title'), 'Welcome to Archy');
    await page.fill('#password', 'short');
    await page.fill('#password-confirm', 'short');
    await page.click('#auth-submit');
    await expectText(page.locator('#auth-error'), 'at least 8 characters');
  });

  await step('first-run: the password is set and the catalog is listed', async () => {
    await page.fill('#password', PASSWORD);
    await page.fill('#password-confirm', PASSWORD);
    await page.click('#auth-submit');
    await card.waitFor();
    // Set once; gone if anything reloads the page later.
    await page.evaluate(() => { window.sameDocument = true; });
    await expectState(card, 'absent');
    await button('Install').waitFor();
    assert.equal(await page.locator('li[data-app]').count(), catalogSize(), 'every catalog app is listed');
    await expectText(page.locator('#system-facts'), 'Reachable');
  });

  await step('log out', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await expectText(page.locator('#auth-title'), 'Log in');
    assert.ok(await page.locator('#dashboard').isHidden(), 'the dashboard is hidden once logged out');
  });

  await step('a wrong password is refused', async () => {
    await page.fill('#password', 'not the password');
    await page.click('#auth-submit');
    await expectText(page.locator('#auth-error'), 'Wrong password');
    assert.ok(await page.locator('#dashboard').isHidden(), 'a wrong password does not open the dashboard');
  });

  await step('the right password logs in', async () => {
    await page.fill('#password', PASSWORD);
    await page.click('#auth-submit');
    await card.waitFor();
    await expectState(card, 'absent');
  });

  await step('install demo-web from the keyboard; a second press sends nothing', async () => {
    await page.evaluate(() => document.activeElement?.blur());
    await tabTo(page, button('Install'));
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter');
    await button('Install').click({ force: true, timeout: 2000 }).catch(() => {});
    await expectText(card.locator('.badge.state'), /Installing|Starting|Running/);
    assert.equal(rpcCalls.filter((method) => method === 'package.install').length, 1, 'exactly one package.install was sent');
  });

  await step('demo-web reaches running with no reload', async () => {
    await expectState(card, 'running', INSTALL_TIMEOUT_MS);
    await expectButtons(card, ['Stop', 'Restart', 'Uninstall']);
    assert.ok(await page.evaluate(() => window.sameDocument), 'the page was never reloaded');
  });

  await step('details: events with reasons, the log, and the link to its UI', async () => {
    const toggle = card.locator('[aria-controls]');
    if (await toggle.getAttribute('aria-expanded') !== 'true') await toggle.click();
    const timeline = card.locator('.timeline li');
    await expectText(timeline.first(), 'Running');
    assert.ok(await timeline.count() >= 2, 'the timeline shows the install’s transitions');
    await card.locator('.logs').waitFor();
    const link = card.getByRole('link', { name: /Open Demo web/ });
    assert.equal(await link.getAttribute('href'), `http://127.0.0.1:${APP_PORT}`);
    const served = await (await fetch(`http://127.0.0.1:${APP_PORT}/`)).text();
    assert.match(served, /demo-web is up/, 'the linked UI answers');
  }, { fullPage: true });

  await step('at 375 px wide: one column, nothing wider than the screen', async () => {
    await page.setViewportSize(PHONE);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than a 375 px phone`);
  }, { fullPage: true });

  await page.setViewportSize(DESKTOP);

  await step('the live connection drops: a banner says so', async () => {
    await page.evaluate(() => window.archy.dropLiveConnection());
    await expectText(page.locator('#connection-banner'), 'Live updates lost');
  });

  await step('it reconnects by itself', async () => {
    await expectText(page.locator('#connection-banner'), 'Reconnected');
  });

  await step('stop: the new connection brings stopped', async () => {
    await button('Stop').click();
    await expectState(card, 'stopped', TRANSITION_TIMEOUT_MS);
    await expectButtons(card, ['Start', 'Uninstall']);
  });

  await step('start: running again', async () => {
    await button('Start').click();
    await expectState(card, 'running', TRANSITION_TIMEOUT_MS);
    await expectButtons(card, ['Stop', 'Restart', 'Uninstall']);
  });

  // Something of the app's own for the purge to delete (demo-web itself writes nothing).
  const appData = path.join(daemon.stateDir, 'data', APP);
  mkdirSync(appData, { recursive: true });
  writeFileSync(path.join(appData, 'kept-by-the-app'), 'precious');

  await step('uninstall asks first, with purge as an explicit choice', async () => {
    await button('Uninstall').click();
    const dialog = page.locator('#uninstall-dialog');
    await expectText(dialog, 'Uninstall Demo web?');
    await dialog.getByLabel('Also delete its data').check();
  });

  await step('purge asks a second time, naming the data', async () => {
    await page.locator('#uninstall-confirm').click();
    const dialog = page.locator('#purge-dialog');
    await expectText(dialog, 'Delete all of Demo web’s data?');
    await expectText(dialog.locator('.purge-list'), 'data directory');
  });

  await step('demo-web is uninstalled and its data purged', async () => {
    await page.locator('#purge-confirm').click();
    await expectState(card, 'absent', TRANSITION_TIMEOUT_MS);
    await button('Install').waitFor();
    const sent = rpcCalls.filter((method) => method === 'package.uninstall').length;
    assert.equal(sent, 1, 'exactly one package.uninstall was sent');
    assert.ok(!existsSync(appData), `the purge left ${appData} behind`);
  });

  await step('the daemon goes away: the banner says so', async () => {
    await daemon.stop();
    await expectText(page.locator('#connection-banner'), 'Live updates lost');
  });

  await step('the daemon is back: its restart ended the session, and the page says so', async () => {
    await daemon.start();
    await expectText(page.locator('#auth-intro'), 'session ended', TRANSITION_TIMEOUT_MS);
  });

  await step('log in again: the list is back, without a reload', async () => {
    await page.fill('#password', PASSWORD);
    await page.click('#auth-submit');
    await expectState(card, 'absent');
    assert.ok(await page.evaluate(() => window.sameDocument), 'the page recovered without a reload');
  });
}

/** step(name, work, { fullPage }): run one step and screenshot its outcome as NN-name.png. */
function stepper(page) {
  return async (name, work, { fullPage = false } = {}) => {
    stepNumber += 1;
    process.stdout.write(`${String(stepNumber).padStart(2)}. ${name} … `);
    await work();
    console.log('ok');
    await page.screenshot({ path: shotPath(name), fullPage });
  };
}

function shotPath(name) {
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60);
  return path.join(ARTIFACTS, `${String(stepNumber).padStart(2, '0')}-${slug}.png`);
}

async function expectState(card, state, timeout = UI_TIMEOUT_MS) {
  try {
    await card.and(card.page().locator(`[data-state="${state}"]`)).waitFor({ timeout });
  } catch {
    const shown = await card.innerText().catch(() => '(no card)');
    throw new Error(`${APP} never showed “${state}” within ${timeout / 1000} s; its card says:\n${shown}`);
  }
}

async function expectText(locator, expected, timeout = UI_TIMEOUT_MS) {
  const pattern = expected instanceof RegExp ? expected : new RegExp(escape(expected));
  try {
    await locator.filter({ hasText: pattern }).first().waitFor({ timeout });
  } catch {
    const shown = await locator.first().innerText().catch(() => '(nothing)');
    throw new Error(`expected ${pattern} within ${timeout / 1000} s; the page shows: ${JSON.stringify(shown)}`);
  }
}

/** The card's visible action buttons are exactly these, in this order. */
async function expectButtons(card, names) {
  const visible = await card.locator('.actions button[data-action]:visible').evaluateAll(
    (buttons) => buttons.map((button) => button.firstChild.textContent));
  assert.deepEqual(visible, names, 'the buttons offered match the state');
}

/** Press Tab until the target has focus: proves it is reachable by keyboard. */
async function tabTo(page, target, maxPresses = 60) {
  for (let presses = 0; presses < maxPresses; presses += 1) {
    await page.keyboard.press('Tab');
    if (await target.evaluate((element) => element === document.activeElement)) return;
  }
  throw new Error(`the ${APP} install button was not reached in ${maxPresses} Tab presses`);
}

function catalogSize() {
  const dir = path.join(REPO, 'apps/demo');
  return readdirSync(dir).filter((entry) => existsSync(path.join(dir, entry, 'manifest.yml'))).length;
}

/** After a failure, leave the shared engine as we found it. */
async function removeDemoWeb(daemon, engine) {
  if (!daemon.child) return; // never started, or stopped after the uninstall step
  try {
    const { apps } = await daemon.call('container.list');
    if (!apps.some((app) => app.id === APP && app.state !== 'absent')) return;
    await daemon.call('package.uninstall', { id: APP, purge: true });
    await until(`${APP} is uninstalled`, async () => {
      const list = await daemon.call('container.list');
      return !list.apps.some((app) => app.id === APP && app.state !== 'absent');
    }, TRANSITION_TIMEOUT_MS);
  } catch (error) {
    console.error(`could not clean up ${APP} (${error.message}); remove its containers with \`podman rm -f archy-${APP} archy-${APP}-ui\` (engine ${engine})`);
  }
}

function tail(file, lines) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

main().catch((error) => {
  console.error(error instanceof PreflightError ? `✗ cannot run the e2e: ${error.message}` : error);
  process.exitCode = 1;
});

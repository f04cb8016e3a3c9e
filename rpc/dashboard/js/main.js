// The dashboard's controller: log in, read the apps, keep them live, run actions.

import { ApiError, call, logout, session } from './api.js';
import { AppCard } from './app-card.js';
import { askToLogIn } from './auth-view.js';
import { confirmUninstall } from './dialogs.js';
import { byId, toast } from './dom.js';
import { LiveFeed } from './live.js';
import { STATE_LABELS, applyEntry, isInProgress, mergeApps } from './model.js';
import { refreshSystem } from './system.js';

/** How long an accepted action may go without its first transition before we re-read. */
const PENDING_TIMEOUT_MS = 20_000;
/** Live entries arrive in bursts; one re-read after the burst fills in ports, health, restarts. */
const REREAD_DELAY_MS = 300;

const page = {
  apps: [],
  cards: new Map(),
  /** appId → the action sent and not yet seen moving. */
  pending: new Map(),
  /** appId → the latest note of its running operation. */
  progress: new Map(),
  /** appId → the last failure to show on its card. */
  errors: new Map(),
  feed: null,
  rereadTimer: null,
  /** The live connection dropped since the last time it was up. */
  wasLost: false,
  bannerTimer: null,
};

// For tests and debugging: drop the live connection as a network failure would.
window.archy = { dropLiveConnection: () => page.feed?.drop() };

async function boot() {
  let current;
  try {
    current = await session();
  } catch (error) {
    showFatal(error.message);
    return;
  }
  if (!current.logged_in) await askToLogIn({ passwordSet: current.password_set });
  enterDashboard();
}

function enterDashboard() {
  byId('dashboard').hidden = false;
  byId('logout').hidden = false;
  byId('apps-heading').focus(); // the login form that had focus is gone
  page.feed = new LiveFeed({
    onEntry,
    onConnected: rereadAll,
    onLagged: rereadAll,
    onStatus: showConnection,
    shouldRetry: stillLoggedIn,
  });
  page.feed.start();
}

function leaveDashboard() {
  page.feed?.stop();
  page.feed = null;
  byId('dashboard').hidden = true;
  byId('logout').hidden = true;
  hideBanner();
}

/** The session is gone (logout elsewhere, expiry, daemon restart): back to the login form. */
async function sessionEnded(notice) {
  if (!page.feed) return;
  leaveDashboard();
  await askToLogIn({ passwordSet: true, notice });
  enterDashboard();
}

async function stillLoggedIn() {
  try {
    const current = await session();
    if (current.logged_in) return true;
    sessionEnded('Your session ended (the daemon may have restarted). Log in again.');
    return false;
  } catch {
    return true; // the daemon is down: keep trying
  }
}

/** Re-read the catalog and every status; the list is redrawn from them. */
async function readApps() {
  try {
    const [catalog, list] = await Promise.all([call('registry.list'), call('container.list')]);
    page.apps = mergeApps(catalog, list.apps);
    byId('engine-warning').hidden = list.engine_reachable;
    render();
  } catch (error) {
    handleFailure(error);
  }
  refreshSystem();
}

/** After a (re)connect: everything, open details included, since entries may have been missed. */
async function rereadAll() {
  clearTimeout(page.rereadTimer);
  await readApps();
  for (const card of page.cards.values()) card.openDetails?.load(page.apps.find((app) => app.id === card.id));
}

function rereadSoon() {
  clearTimeout(page.rereadTimer);
  page.rereadTimer = setTimeout(readApps, REREAD_DELAY_MS);
}

function onEntry(entry) {
  if (entry.app) {
    const card = page.cards.get(entry.app);
    if (entry.transition) {
      const { to } = entry.transition;
      const wasOurs = page.pending.delete(entry.app) || page.progress.has(entry.app);
      page.errors.delete(entry.app); // the app moved on: an earlier refusal no longer applies
      applyEntry(page.apps, entry);
      if (isInProgress(to)) {
        page.progress.set(entry.app, entry.reason);
      } else {
        page.progress.delete(entry.app);
        if (wasOurs) announce(entry.app, to);
      }
      if (card?.openDetails) card.openDetails.loadLogs();
    } else if (page.pending.has(entry.app) || page.progress.has(entry.app)) {
      page.progress.set(entry.app, entry.reason);
    }
    card?.openDetails?.addEntry(entry);
    render();
  }
  rereadSoon();
}

function announce(appId, state) {
  const app = page.apps.find((candidate) => candidate.id === appId);
  if (!app) return;
  const tone = state === 'failed' || state === 'unhealthy' ? 'bad' : 'good';
  toast(state === 'absent' ? `${app.name} is uninstalled.` : `${app.name}: ${STATE_LABELS[state].toLowerCase()}.`, tone);
}

async function runAction(appId, action) {
  if (page.pending.has(appId)) return;
  const app = page.apps.find((candidate) => candidate.id === appId);
  const params = { id: appId };
  if (action === 'uninstall') {
    const manifest = await call('app.get', { id: appId }).catch(() => null);
    const answer = await confirmUninstall(app, manifest);
    page.cards.get(appId)?.buttons.uninstall.focus();
    if (!answer) return;
    params.purge = answer.purge;
  }
  page.pending.set(appId, action);
  page.errors.delete(appId);
  render();
  try {
    await call(`package.${action}`, params);
    setTimeout(() => {
      if (page.pending.get(appId) !== action) return;
      page.pending.delete(appId);
      rereadAll();
    }, PENDING_TIMEOUT_MS);
  } catch (error) {
    page.pending.delete(appId);
    page.errors.set(appId, error.message);
    render();
    handleFailure(error);
  }
}

function handleFailure(error) {
  if (error instanceof ApiError && error.unauthorized) {
    sessionEnded('Your session ended. Log in again.');
  } else {
    toast(error.message, 'bad');
  }
}

function render() {
  const list = byId('app-list');
  byId('apps-empty').hidden = page.apps.length > 0;
  byId('apps-empty').textContent = 'No apps in the catalog.';
  const focused = document.activeElement;
  const wanted = page.apps.map((app) => {
    let card = page.cards.get(app.id);
    if (!card) {
      card = new AppCard(app, { onAction: runAction });
      page.cards.set(app.id, card);
    }
    card.update(app, {
      pending: page.pending.get(app.id) ?? null,
      progress: page.progress.get(app.id) ?? null,
      error: page.errors.get(app.id) ?? null,
    });
    return card.element;
  });
  for (const [id, card] of page.cards) {
    if (!page.apps.some((app) => app.id === id)) {
      card.element.remove();
      page.cards.delete(id);
    }
  }
  const inOrder = wanted.every((element, index) => list.children[index] === element) && list.children.length === wanted.length;
  if (!inOrder) {
    list.replaceChildren(...wanted);
    if (focused && focused !== document.activeElement && focused.isConnected) focused.focus();
  }
}

function showConnection({ phase, retryInMs }) {
  const banner = byId('connection-banner');
  const text = byId('connection-text');
  const retry = byId('reconnect-now');
  clearTimeout(page.bannerTimer);
  if (phase === 'lost') {
    page.wasLost = true;
    banner.className = 'banner bad';
    text.textContent = `Live updates lost: reconnecting in ${Math.max(1, Math.round(retryInMs / 1000))} s…`;
    retry.hidden = false;
    banner.hidden = false;
    document.body.classList.add('offline');
  } else if (phase === 'connecting' && page.wasLost) {
    text.textContent = 'Live updates lost: reconnecting now…';
    retry.hidden = true;
  } else if (phase === 'live' && page.wasLost) {
    page.wasLost = false;
    banner.className = 'banner good';
    text.textContent = 'Reconnected: live updates are back.';
    retry.hidden = true;
    document.body.classList.remove('offline');
    page.bannerTimer = setTimeout(hideBanner, 4000);
  }
}

function hideBanner() {
  page.wasLost = false;
  byId('connection-banner').hidden = true;
  document.body.classList.remove('offline');
}

function showFatal(message) {
  byId('auth-view').hidden = false;
  byId('auth-title').textContent = 'Archy is not answering';
  byId('auth-intro').textContent = `${message} Reload this page once it is back.`;
  byId('auth-form').querySelectorAll('.field, button').forEach((element) => { element.hidden = true; });
}

byId('logout').addEventListener('click', async () => {
  leaveDashboard();
  try {
    await logout();
  } catch (error) {
    toast(error.message, 'bad');
  }
  await askToLogIn({ passwordSet: true, notice: 'You are logged out.' });
  enterDashboard();
});
byId('reconnect-now').addEventListener('click', () => page.feed?.retryNow());
byId('system-refresh').addEventListener('click', refreshSystem);

boot();

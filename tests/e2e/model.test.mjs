// The dashboard's DOM-free logic, in plain Node (`node --test`): fast checks
// of what the journey can only see from outside.

import assert from 'node:assert/strict';
import test from 'node:test';

import { backoff } from '../../rpc/dashboard/js/live.js';
import { allowedActions, applyEntry, mergeApps, purgeTargets, uiUrl } from '../../rpc/dashboard/js/model.js';

const catalog = [
  { id: 'web', name: 'Web', version: '1', description: 'a page', installed: false },
  { id: 'api', name: 'Api', version: '1', description: 'an api', installed: true },
  { id: 'db', name: 'Db', version: '1', description: 'a db', installed: false },
];
const status = (id, state) => ({
  id, name: id.toUpperCase(), state, health: 'healthy', ports: [], companions: [],
  user_stopped: false, last_reason: 'why', restart_count: 1,
});

test('installed apps come first, then by name', () => {
  const apps = mergeApps(catalog, [status('web', 'running')]);
  assert.deepEqual(apps.map((app) => `${app.id}:${app.state}`), ['web:running', 'api:absent', 'db:absent']);
});

test('an installed app gone from the catalog is still listed', () => {
  const apps = mergeApps(catalog, [status('old', 'stopped')]);
  assert.equal(apps[0].id, 'old');
  assert.equal(apps[0].state, 'stopped');
});

test('a live transition moves the app and re-sorts; absent clears its ports', () => {
  const apps = mergeApps(catalog, [status('web', 'running')]);
  apps[0].ports = [{ host: 18080, container: 8080, protocol: 'tcp' }];
  applyEntry(apps, { app: 'db', transition: { from: 'absent', to: 'installing' }, reason: 'getting images' });
  assert.deepEqual(apps.map((app) => app.id), ['db', 'web', 'api']);
  assert.equal(apps[0].lastReason, 'getting images');
  applyEntry(apps, { app: 'web', transition: { from: 'uninstalling', to: 'absent' }, reason: 'uninstalled' });
  const web = apps.find((app) => app.id === 'web');
  assert.deepEqual(web.ports, []);
  assert.equal(apps.at(-1).id, 'web', 'an uninstalled app joins the catalog apps, by name');
});

test('an entry without a transition changes nothing', () => {
  const apps = mergeApps(catalog, [status('web', 'running')]);
  applyEntry(apps, { app: 'web', transition: null, reason: 'a note' });
  assert.equal(apps[0].state, 'running');
  assert.equal(apps[0].lastReason, 'why');
});

test('each state offers only what it allows', () => {
  assert.deepEqual(allowedActions('absent'), ['install']);
  assert.deepEqual(allowedActions('running'), ['stop', 'restart', 'uninstall']);
  assert.deepEqual(allowedActions('stopped'), ['start', 'uninstall']);
  assert.deepEqual(allowedActions('failed'), ['start', 'uninstall']);
  assert.deepEqual(allowedActions('installing'), ['uninstall'], 'a hung install can be abandoned');
  assert.deepEqual(allowedActions('stopping'), []);
  assert.deepEqual(allowedActions('uninstalling'), []);
});

test('a purge names data folders, volumes and secrets from the manifest', () => {
  const targets = purgeTargets({
    id: 'db',
    container: { volumes: [{ data: 'db', target: '/data' }, { volume: 'cache', target: '/cache' }] },
    generated_secrets: [{ name: 'password' }],
  });
  assert.deepEqual(targets, [
    'Everything in its data directory',
    'Data folder “db” (mounted at /data)',
    'Volume archy-db-cache (mounted at /cache)',
    'Generated secrets: password',
  ]);
});

test('a purge of a stack names every member’s data', () => {
  const targets = purgeTargets({ id: 's', stack: [{ volumes: [{ data: 'a', target: '/a' }] }, { volumes: [{ data: 'b', target: '/b' }] }] });
  assert.ok(targets.includes('Data folder “a” (mounted at /a)'));
  assert.ok(targets.includes('Data folder “b” (mounted at /b)'));
});

test('UI links use the page’s host, bracketing IPv6', () => {
  assert.equal(uiUrl(18080, 'archy.local'), 'http://archy.local:18080');
  assert.equal(uiUrl(18080, '::1'), 'http://[::1]:18080');
});

test('reconnect backoff doubles from 0.5 s and stops growing at 15 s', () => {
  const within = (failures, low, high) => {
    for (let i = 0; i < 50; i += 1) {
      const delay = backoff(failures);
      assert.ok(delay >= low && delay <= high, `backoff(${failures}) = ${delay}, outside ${low}–${high}`);
    }
  };
  within(0, 400, 600);
  within(1, 400, 600);
  within(2, 800, 1200);
  within(4, 3200, 4800);
  within(20, 12_000, 18_000);
});

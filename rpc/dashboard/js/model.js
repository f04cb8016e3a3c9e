// What the page knows about apps, and what each state allows. No DOM here.

/** States an operation is still moving through: progress is shown, most actions wait. */
const IN_PROGRESS = new Set(['installing', 'starting', 'restarting', 'stopping', 'uninstalling']);

export const STATE_LABELS = {
  absent: 'Not installed',
  installing: 'Installing',
  starting: 'Starting',
  running: 'Running',
  unhealthy: 'Unhealthy',
  restarting: 'Restarting',
  stopping: 'Stopping',
  stopped: 'Stopped',
  uninstalling: 'Uninstalling',
  blocked: 'Blocked',
  failed: 'Failed',
};

/** The tone a state is drawn in (always alongside its words, never colour alone). */
export function stateTone(state) {
  if (state === 'running') return 'good';
  if (state === 'unhealthy' || state === 'failed' || state === 'blocked') return 'bad';
  if (IN_PROGRESS.has(state)) return 'busy';
  return 'quiet';
}

export const isInProgress = (state) => IN_PROGRESS.has(state);

/** The actions a state allows, in the order the buttons show. */
export function allowedActions(state) {
  switch (state) {
    case 'absent':
      return ['install'];
    case 'running':
    case 'unhealthy':
      return ['stop', 'restart', 'uninstall'];
    case 'stopped':
    case 'failed':
    case 'blocked': // its reason names the dependency to start first
      return ['start', 'uninstall'];
    // An install or a start that hangs can still be abandoned.
    case 'installing':
    case 'starting':
    case 'restarting':
      return ['uninstall'];
    default:
      return [];
  }
}

export const ACTIONS = ['install', 'start', 'stop', 'restart', 'uninstall'];

export const ACTION_LABELS = {
  install: { idle: 'Install', busy: 'Installing…' },
  start: { idle: 'Start', busy: 'Starting…' },
  stop: { idle: 'Stop', busy: 'Stopping…' },
  restart: { idle: 'Restart', busy: 'Restarting…' },
  uninstall: { idle: 'Uninstall', busy: 'Uninstalling…' },
};

/**
 * Every catalog app merged with its status; apps installed but no longer in
 * the catalog are kept. Installed apps first, then by name.
 */
export function mergeApps(catalog, statuses) {
  const byId = new Map(statuses.map((status) => [status.id, status]));
  const apps = catalog.map((entry) => toApp(entry, byId.get(entry.id)));
  const catalogIds = new Set(catalog.map((entry) => entry.id));
  for (const status of statuses) {
    if (!catalogIds.has(status.id)) apps.push(toApp({ id: status.id, name: status.name, version: '', description: 'No longer in the catalog.' }, status));
  }
  return apps.sort(byInstalledThenName);
}

function toApp(entry, status) {
  return {
    id: entry.id,
    name: status?.name ?? entry.name,
    version: entry.version,
    description: entry.description,
    state: status?.state ?? 'absent',
    health: status?.health ?? 'unknown',
    ports: status?.ports ?? [],
    companions: status?.companions ?? [],
    userStopped: status?.user_stopped ?? false,
    lastReason: status?.last_reason ?? null,
    restartCount: status?.restart_count ?? 0,
  };
}

export const isInstalled = (app) => app.state !== 'absent';

function byInstalledThenName(a, b) {
  return Number(isInstalled(b)) - Number(isInstalled(a)) || a.name.localeCompare(b.name);
}

/** Apply a journal entry to the list at once; the full re-read that follows fills in the rest. */
export function applyEntry(apps, entry) {
  const app = apps.find((candidate) => candidate.id === entry.app);
  if (!app || !entry.transition) return apps;
  app.state = entry.transition.to;
  app.lastReason = entry.reason;
  if (app.state === 'absent') Object.assign(app, { ports: [], companions: [], health: 'unknown', restartCount: 0 });
  return apps.sort(byInstalledThenName);
}

/** The URL of an app's own web UI on this host. */
export function uiUrl(port, host = location.hostname) {
  const name = host.includes(':') ? `[${host}]` : host;
  return `http://${name}:${port}`;
}

/** Named things a purge deletes, read from the app's manifest (as app.get returns it). */
export function purgeTargets(manifest) {
  const members = manifest?.stack ?? (manifest?.container ? [manifest.container] : []);
  const targets = ['Everything in its data directory'];
  for (const member of members) {
    for (const volume of member.volumes ?? []) {
      if (volume.data) targets.push(`Data folder “${volume.data}” (mounted at ${volume.target})`);
      if (volume.volume) targets.push(`Volume archy-${manifest.id}-${volume.volume} (mounted at ${volume.target})`);
    }
  }
  const secrets = (manifest?.generated_secrets ?? []).map((secret) => secret.name);
  if (secrets.length) targets.push(`Generated secrets: ${secrets.join(', ')}`);
  else targets.push('Any secrets Archy generated for it');
  return targets;
}

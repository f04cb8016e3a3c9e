// The system panel: engine, daemon, last reconcile pass, actor restarts.

import { call } from './api.js';
import { h, byId, formatDuration, formatTime } from './dom.js';

const LAST_RECONCILE = 'archy_reconcile_last_success_timestamp_seconds';

export async function refreshSystem() {
  const facts = byId('system-facts');
  let info;
  try {
    info = await call('system.info');
  } catch (error) {
    facts.replaceChildren(row('Daemon', error.message, 'bad'));
    return null;
  }
  const lastReconcile = await lastReconcileMs();
  const restarted = actorsWithRestarts(info.actors);
  const totalRestarts = restarted.reduce((sum, actor) => sum + actor.restarts, 0);
  facts.replaceChildren(
    row('Engine', info.engine.reachable ? `Reachable${info.engine.version ? ` (Podman ${info.engine.version})` : ''}` : 'Not reachable', info.engine.reachable ? 'good' : 'bad'),
    row('Endpoint', info.engine.endpoint),
    row('Last reconcile', lastReconcile ? formatTime(lastReconcile) : 'No pass recorded yet'),
    row('Actor restarts', totalRestarts
      ? [`${totalRestarts}: `, restarted.map((actor) => `${actor.name} ×${actor.restarts}`).join(', ')]
      : 'None', totalRestarts ? 'warn' : null),
    row('Daemon', `v${info.version}, up ${formatDuration(info.uptime_secs)}`),
  );
  return info;
}

function row(term, value, tone = null) {
  return h('div', { class: 'fact' }, h('dt', {}, term), h('dd', { class: tone ? `tone-text-${tone}` : null }, value));
}

function actorsWithRestarts(node, found = []) {
  if (node.restarts > 0) found.push(node);
  for (const child of node.children) actorsWithRestarts(child, found);
  return found;
}

/** The reconciler's last good pass, from the daemon's own /metrics (no auth, same origin). */
async function lastReconcileMs() {
  try {
    const text = await (await fetch('/metrics')).text();
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${LAST_RECONCILE} `));
    const seconds = line ? Number(line.split(' ')[1]) : 0;
    return seconds > 0 ? seconds * 1000 : null;
  } catch {
    return null;
  }
}

// One app's details: links to its UIs, its companions, its event timeline
// and the last lines of its log. Filled when opened, kept live while open.

import { call } from './api.js';
import { h, formatTime } from './dom.js';
import { STATE_LABELS, stateTone, uiUrl } from './model.js';

const LOG_LINES = 60;
const TIMELINE_ENTRIES = 40;

export class DetailsPanel {
  constructor(appId) {
    this.appId = appId;
    this.entries = [];
    this.manifest = null;
    this.app = null;
    this.links = h('div', { class: 'links' });
    this.companions = h('div', { class: 'companions' });
    this.timeline = h('ol', { class: 'timeline', 'aria-label': 'Events, newest first' });
    this.logs = h('pre', { class: 'logs', tabindex: '0', 'aria-label': 'Last log lines' });
    this.logButton = h('button', { class: 'button small subtle', type: 'button', onclick: () => this.loadLogs() }, 'Refresh log');
    this.element = h('div', { class: 'details' },
      this.links,
      this.companions,
      h('section', { class: 'detail-block' }, h('h4', {}, 'Events'), this.timeline),
      h('section', { class: 'detail-block' },
        h('div', { class: 'block-head' }, h('h4', {}, 'Log'), this.logButton),
        this.logs),
    );
  }

  /** Read everything afresh (on open, and after a reconnect). */
  async load(app) {
    this.app = app;
    this.renderLinks();
    await Promise.all([this.loadEvents(), this.loadLogs(), this.loadManifest()]);
  }

  /** The app's status changed (a re-read or a live entry). */
  update(app) {
    this.app = app;
    this.renderLinks();
  }

  async loadEvents() {
    try {
      this.entries = await call('app.events', { id: this.appId });
      this.renderTimeline();
    } catch (error) {
      this.timeline.replaceChildren(h('li', { class: 'muted' }, `Cannot read the events: ${error.message}`));
    }
  }

  async loadLogs() {
    if (this.app && this.app.state === 'absent') {
      this.logs.textContent = 'Not installed: no log.';
      return;
    }
    try {
      const lines = await call('package.logs', { id: this.appId, tail: LOG_LINES });
      this.logs.textContent = lines.length ? lines.join('\n') : 'The log is empty.';
      this.logs.scrollTop = this.logs.scrollHeight;
    } catch (error) {
      this.logs.textContent = `Cannot read the log: ${error.message}`;
    }
  }

  async loadManifest() {
    try {
      this.manifest = await call('app.get', { id: this.appId });
    } catch {
      this.manifest = null;
    }
    this.renderLinks();
  }

  /** A live journal entry for this app. */
  addEntry(entry) {
    if (this.entries.some((known) => known.seq === entry.seq)) return;
    this.entries.push(entry);
    this.renderTimeline();
  }

  renderTimeline() {
    const newest = this.entries.slice(-TIMELINE_ENTRIES).reverse();
    if (!newest.length) {
      this.timeline.replaceChildren(h('li', { class: 'muted' }, 'Nothing has happened yet.'));
      return;
    }
    this.timeline.replaceChildren(...newest.map(timelineItem));
  }

  renderLinks() {
    const app = this.app;
    if (!app) return;
    const running = app.state === 'running' || app.state === 'unhealthy';
    const appLinks = app.ports
      .filter((port) => port.protocol === 'tcp')
      .map((port) => portLink(`Open ${app.name}`, port.host, running));
    this.links.replaceChildren(...(appLinks.length ? [h('h4', {}, 'Web interface'), h('p', { class: 'link-row' }, appLinks)] : []));

    // Companions the manifest declares, with the status the daemon reports for them (if any).
    const statuses = new Map(app.companions.map((companion) => [companion.name, companion]));
    const names = [...new Set([...(this.manifest?.companions ?? []).map((companion) => companion.name), ...statuses.keys()])];
    if (!names.length || app.state === 'absent') {
      this.companions.replaceChildren();
      return;
    }
    const declared = new Map((this.manifest?.companions ?? []).map((companion) => [companion.name, companion]));
    this.companions.replaceChildren(
      h('h4', {}, 'Companions'),
      h('ul', { class: 'companion-list' }, names.map((name) => {
        const status = statuses.get(name);
        const ports = declared.get(name)?.ports ?? [];
        return h('li', {},
          h('span', { class: 'companion-name' }, name),
          status ? stateBadge(status.state) : null,
          status && status.health !== 'unknown' ? h('span', { class: 'muted' }, status.health) : null,
          ports.map((port) => portLink('Open', port.host, status ? status.state === 'running' : running)));
      })),
    );
  }
}

function stateBadge(state) {
  return h('span', { class: `badge tone-${stateTone(state)}` }, STATE_LABELS[state] ?? state);
}

function portLink(label, port, reachable) {
  return h('a', { class: 'port-link', href: uiUrl(port), target: '_blank', rel: 'noopener', 'aria-disabled': reachable ? null : 'true' },
    label, h('span', { class: 'muted' }, `port ${port}`), h('span', { 'aria-hidden': 'true' }, '↗'));
}

function timelineItem(entry) {
  const { from, to } = entry.transition ?? {};
  // A step inside one state (installing: getting images, creating…) shows that state once.
  const change = entry.transition
    ? h('span', { class: 'transition' },
        from !== to ? [stateBadge(from), h('span', { 'aria-label': 'to' }, ' → ')] : null,
        stateBadge(to))
    : null;
  return h('li', {},
    h('time', { datetime: new Date(entry.at_unix_ms).toISOString() }, formatTime(entry.at_unix_ms)),
    change,
    h('span', { class: 'reason' }, entry.reason));
}

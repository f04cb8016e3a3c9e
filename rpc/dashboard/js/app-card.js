// One app in the list. The card and its buttons are made once and updated in
// place, so keyboard focus survives live updates.

import { h } from './dom.js';
import { DetailsPanel } from './details.js';
import { ACTIONS, ACTION_LABELS, STATE_LABELS, allowedActions, isInProgress, stateTone, uiUrl } from './model.js';

const HEALTH_LABELS = { healthy: 'Healthy', unhealthy: 'Unhealthy', unknown: 'Not checked yet' };

export class AppCard {
  /** onAction(appId, action) runs an action; the controller owns what happens next. */
  constructor(app, { onAction }) {
    this.id = app.id;
    this.app = app;
    const headingId = `app-${app.id}-name`;
    this.name = h('h3', { id: headingId });
    this.version = h('span', { class: 'version' });
    this.description = h('p', { class: 'description' });
    this.badge = h('span', { class: 'badge state' });
    this.facts = h('dl', { class: 'app-facts' });
    this.reason = h('p', { class: 'reason' });
    this.progress = h('p', { class: 'progress', hidden: true });
    this.error = h('p', { class: 'app-error', role: 'alert' });
    this.buttons = Object.fromEntries(ACTIONS.map((action) => [action, h('button', {
      type: 'button',
      class: `button ${action === 'install' || action === 'start' ? 'primary' : ''} ${action === 'uninstall' ? 'danger-outline' : ''}`,
      dataset: { action },
      onclick: (event) => {
        if (event.currentTarget.getAttribute('aria-disabled') === 'true') return;
        onAction(this.id, action);
      },
    })]));
    const detailsId = `app-${app.id}-details`;
    this.detailsToggle = h('button', {
      type: 'button', class: 'button subtle', 'aria-expanded': 'false', 'aria-controls': detailsId,
      onclick: () => this.toggleDetails(),
    }, 'Details');
    this.details = null;
    this.detailsHost = h('div', { id: detailsId, hidden: true });

    this.element = h('li', { class: 'app-card card', dataset: { app: app.id } },
      h('article', { 'aria-labelledby': headingId },
        h('div', { class: 'app-head' },
          h('div', { class: 'app-title' }, this.name, this.version),
          this.badge),
        this.description,
        this.facts,
        this.reason,
        this.progress,
        this.error,
        h('div', { class: 'actions' }, ACTIONS.map((action) => this.buttons[action]), this.detailsToggle),
        this.detailsHost));
  }

  /**
   * Draw the app. `pending` is the action sent and not yet seen moving,
   * `progress` the latest note of a running operation, `error` the last failure.
   */
  update(app, { pending = null, progress = null, error = null } = {}) {
    this.app = app;
    const installed = app.state !== 'absent';
    this.element.classList.toggle('installed', installed);
    this.element.dataset.state = app.state;
    this.name.textContent = app.name;
    this.version.textContent = app.version ? `v${app.version}` : '';
    this.description.textContent = app.description ?? '';
    this.description.hidden = installed && !app.description;

    const inProgress = isInProgress(app.state);
    this.badge.className = `badge state tone-${stateTone(app.state)}${inProgress || pending ? ' working' : ''}`;
    this.badge.textContent = STATE_LABELS[app.state] ?? app.state;

    this.facts.replaceChildren(...(installed ? this.factItems(app) : []));
    this.reason.textContent = app.lastReason ? app.lastReason : '';
    const showProgress = Boolean(progress) && (inProgress || Boolean(pending));
    this.progress.textContent = showProgress ? progress : '';
    this.progress.hidden = !showProgress;
    this.reason.hidden = !app.lastReason || showProgress;
    this.error.textContent = error ?? '';

    this.updateButtons(app, pending);
    this.details?.update(app);
  }

  factItems(app) {
    const openPorts = app.ports.filter((port) => port.protocol === 'tcp');
    const items = [
      fact('Health', HEALTH_LABELS[app.health] ?? app.health, `health-${app.health}`),
      fact('Restarts', String(app.restartCount)),
    ];
    if (openPorts.length) {
      items.push(fact('Ports', openPorts.map((port, index) => [
        index ? ', ' : '',
        h('a', { href: uiUrl(port.host), target: '_blank', rel: 'noopener' }, String(port.host)),
      ])));
    }
    if (app.userStopped && app.state === 'stopped') items.push(fact('Stays stopped', 'until you start it'));
    return items;
  }

  updateButtons(app, pending) {
    const allowed = allowedActions(app.state);
    const hadFocus = this.element.contains(document.activeElement);
    for (const action of ACTIONS) {
      const button = this.buttons[action];
      const shown = allowed.includes(action) || action === pending;
      const busy = action === pending;
      button.hidden = !shown;
      // aria-disabled rather than disabled: a focused button keeps its focus.
      button.setAttribute('aria-disabled', String(Boolean(pending)));
      button.classList.toggle('working', busy);
      button.replaceChildren(ACTION_LABELS[action][busy ? 'busy' : 'idle'], h('span', { class: 'sr-only' }, ` ${app.name}`));
    }
    // The focused button went away with the state: land somewhere harmless, never on Uninstall.
    if (hadFocus && !this.element.contains(document.activeElement)) this.detailsToggle.focus();
  }

  toggleDetails() {
    const open = this.detailsHost.hidden;
    this.detailsHost.hidden = !open;
    this.detailsToggle.setAttribute('aria-expanded', String(open));
    this.detailsToggle.textContent = open ? 'Hide details' : 'Details';
    this.element.classList.toggle('expanded', open);
    if (open) {
      if (!this.details) {
        this.details = new DetailsPanel(this.id);
        this.detailsHost.append(this.details.element);
      }
      this.details.load(this.app);
    }
  }

  /** The open details panel, if any. */
  get openDetails() {
    return this.detailsHost.hidden ? null : this.details;
  }
}

function fact(term, value, className = '') {
  return h('div', { class: `fact ${className}` }, h('dt', {}, term), h('dd', {}, value));
}

// The uninstall confirmation, and the second, explicit one a purge needs.

import { h, byId } from './dom.js';
import { purgeTargets } from './model.js';

/** Show a modal <dialog>; resolves to true when the user confirmed. */
function ask(dialog) {
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
  });
}

/**
 * Ask before uninstalling. Resolves to `{ purge }`, or null when cancelled.
 * `manifest` (app.get) names the data a purge would delete; it may be null.
 */
export async function confirmUninstall(app, manifest) {
  byId('uninstall-title').textContent = `Uninstall ${app.name}?`;
  byId('uninstall-text').textContent =
    `Its containers are stopped and removed. Its data is kept, so installing it again brings it back as it was.`;
  const purge = byId('uninstall-purge');
  purge.checked = false;
  if (!(await ask(byId('uninstall-dialog')))) return null;
  if (!purge.checked) return { purge: false };

  byId('purge-title').textContent = `Delete all of ${app.name}’s data?`;
  byId('purge-list').replaceChildren(...purgeTargets({ id: app.id, ...manifest }).map((target) => h('li', {}, target)));
  byId('purge-confirm').textContent = `Delete ${app.name}’s data`;
  if (!(await ask(byId('purge-dialog')))) return null;
  return { purge: true };
}

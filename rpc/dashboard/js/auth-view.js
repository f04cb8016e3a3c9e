// The login form, which on first run chooses the password instead.

import { login, setup } from './api.js';
import { byId } from './dom.js';

const MIN_PASSWORD = 8;

/**
 * Show the form until the user is logged in. `passwordSet` false means first
 * run; `notice` explains why we are here (e.g. the session ended).
 */
export function askToLogIn({ passwordSet, notice = '' }) {
  const form = byId('auth-form');
  const password = byId('password');
  const confirm = byId('password-confirm');
  const error = byId('auth-error');
  const submit = byId('auth-submit');
  const firstRun = !passwordSet;

  byId('auth-title').textContent = firstRun ? 'Welcome to Archy' : 'Log in';
  byId('auth-intro').textContent = firstRun
    ? `Choose a password for this dashboard (at least ${MIN_PASSWORD} characters). You will need it to log in.`
    : notice || 'Enter the dashboard password.';
  byId('confirm-field').hidden = !firstRun;
  password.autocomplete = firstRun ? 'new-password' : 'current-password';
  submit.textContent = firstRun ? 'Set password and continue' : 'Log in';
  password.value = '';
  confirm.value = '';
  error.textContent = '';
  password.removeAttribute('aria-invalid');
  byId('auth-view').hidden = false;
  password.focus();

  return new Promise((resolve) => {
    form.onsubmit = async (event) => {
      event.preventDefault();
      const problem = firstRun ? checkNewPassword(password.value, confirm.value) : (password.value ? '' : 'Enter the password.');
      if (problem) {
        showError(problem);
        return;
      }
      submit.disabled = true;
      submit.classList.add('working');
      try {
        await (firstRun ? setup(password.value) : login(password.value));
        form.onsubmit = null;
        byId('auth-view').hidden = true;
        resolve();
      } catch (failure) {
        showError(failure.status === 401 ? 'Wrong password. Try again.' : failure.message);
      } finally {
        submit.disabled = false;
        submit.classList.remove('working');
      }
    };
  });

  function showError(message) {
    error.textContent = message;
    password.setAttribute('aria-invalid', 'true');
    password.select();
    password.focus();
  }
}

function checkNewPassword(password, repeated) {
  if (password.length < MIN_PASSWORD) return `The password needs at least ${MIN_PASSWORD} characters.`;
  if (password !== repeated) return 'The two passwords differ.';
  return '';
}

// What both pages share: building elements, calling the APIs (the
// page's global state.token is the bearer token; every POST that creates
// something gets an Idempotency-Key from newKey), and showing a failed
// call's error (kind, field, message) in the page's #error box.
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);

// h builds an element: h('div', {class: 'x', 'data-test': 'y', onclick}, kids…).
// Text is always set as text, never as HTML.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

// add appends kids to el as h does: arrays flattened, null and false skipped.
function add(el, ...kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

class APIError extends Error {
  constructor(status, problem, where) {
    super(problem.message || `HTTP ${status}`);
    this.status = status;
    this.kind = problem.kind || `http_${status}`;
    this.field = problem.field || '';
    this.where = where;
  }
}

function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

async function call(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.key) headers['Idempotency-Key'] = opts.key;
  if (opts.auth !== false && state.token) headers.Authorization = `Bearer ${state.token}`;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new APIError(0, { kind: 'network', message: String(e.message || e) }, `${method} ${path}`);
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    const problem = (data && data.error) || { kind: `http_${res.status}`, message: text || res.statusText };
    throw new APIError(res.status, problem, `${method} ${path}`);
  }
  return data;
}

function showError(err) {
  console.error(err);
  const box = $('#error');
  $('[data-test=error-kind]', box).textContent = err.kind || 'error';
  $('[data-test=error-message]', box).textContent = (err.field ? `${err.field}: ` : '') + (err.message || String(err));
  $('[data-test=error-where]', box).textContent = err.where || '';
  box.hidden = false;
  box.scrollIntoView({ block: 'nearest' });
}

function clearError() { $('#error').hidden = true; }

function notice(text) {
  const n = $('#notice');
  n.textContent = text;
  n.hidden = false;
}

// guard runs an action for a button: disabled while it runs, its error
// shown. It returns the action's result (undefined when it failed).
async function guard(button, fn) {
  if (button) button.disabled = true;
  clearError();
  try {
    return await fn();
  } catch (e) {
    showError(e);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

function money(m) {
  if (!m) return '—';
  return m.currency === 'CNY' ? `¥${m.amount}` : `${m.amount} ${m.currency}`;
}

function attrs(list) {
  return (list || []).map((a) => `${a.name} ${a.value}`).join(' · ');
}

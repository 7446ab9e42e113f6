/**
 * `/live.js`: the public live counter a site embeds where it wants the count to appear.
 *
 * It is hand-written browser JavaScript (no build step, no dependency) served as it is; it renders
 * text only (`textContent`, never HTML), so nothing the server says can inject markup. Styling:
 * the element has the class `tally-live` (plus `tally-live--offline` while reconnecting) and a
 * `data-visitors` attribute; the default look is zero-specificity CSS that reads the custom
 * properties `--tally-live-color`, `--tally-live-font`, `--tally-live-dot`, `--tally-live-dot-offline`
 * and `--tally-live-dot-size`. After a close (a deploy restarts the ProjectDO) it reconnects with
 * exponential backoff and jitter, 1 s doubling to 60 s, so that thousands of pages do not all
 * return at the same instant.
 *
 * It stops, and empties the element (text, `data-visitors`, the offline class), when there is no
 * counter to show: on close code 4403 (the site turned its public counter off) or 4404 (the project
 * was deleted), and when connections keep failing before they open — 3 in a row on a page that
 * never had a count (a counter that is not on answers the handshake with 404, which a browser
 * reports like any network failure), 10 in a row (minutes of backoff) after it had one.
 *
 * @example
 * ```html
 * <script src="https://HOST/live.js" data-site="SITE_KEY"></script>
 * <!-- options: data-target="#live" (an element to fill), data-api="https://HOST" (API origin),
 *      data-one="{n} reader online" and data-other="{n} readers online" (the text) -->
 * ```
 */

/** Where the Worker serves the widget. */
export const LIVE_SCRIPT_PATH = '/live.js';

/** The widget's source, as served. */
export const LIVE_WIDGET_SCRIPT = `(function () {
  'use strict';
  var script = document.currentScript;
  var site = script && script.getAttribute('data-site');
  if (!site || !window.WebSocket) return;
  var api = (script.getAttribute('data-api') || new URL(script.src).origin).replace(/\\/+$/, '');
  var url = api.replace(/^http/, 'ws') + '/api/live/public/' + encodeURIComponent(site);
  var one = script.getAttribute('data-one') || '{n} person on this site now';
  var other = script.getAttribute('data-other') || '{n} people on this site now';
  var target = script.getAttribute('data-target');
  var el = document.createElement('span');
  var delay = 1000;
  var last = null;
  var misses = 0; // connections in a row that closed without opening
  var opened = false; // whether any connection ever opened

  function place() {
    var found = target && document.querySelector(target);
    if (found) el = found;
    else document.body.appendChild(el);
    decorate();
    if (last !== null) render(last);
  }
  function decorate() {
    el.classList.add('tally-live');
    el.setAttribute('role', 'status');
    el.setAttribute('aria-live', 'polite');
    el.setAttribute('aria-atomic', 'true');
  }
  function render(n) {
    last = n;
    el.textContent = (n === 1 ? one : other).replace('{n}', String(n));
    el.setAttribute('data-visitors', String(n));
    el.classList.remove('tally-live--offline');
  }
  function clear() {
    last = null;
    el.textContent = '';
    el.removeAttribute('data-visitors');
    el.classList.remove('tally-live--offline');
  }
  function connect() {
    var socket = new WebSocket(url);
    var open = false;
    socket.onopen = function () {
      open = opened = true;
      misses = 0;
    };
    socket.onmessage = function (event) {
      var message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (message && message.type === 'count' && typeof message.visitors === 'number') {
        delay = 1000;
        render(message.visitors);
      }
    };
    socket.onclose = function (event) {
      // 4403: the public counter was turned off; 4404: the project was deleted. Either is final.
      if (event.code === 4403 || event.code === 4404) return clear();
      if (!open && ++misses >= (opened ? 10 : 3)) return clear();
      el.classList.add('tally-live--offline');
      setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
      delay = Math.min(delay * 2, 60000);
    };
  }

  var style = document.createElement('style');
  style.textContent =
    ':where(.tally-live){color:var(--tally-live-color,inherit);font:var(--tally-live-font,inherit)}' +
    ':where(.tally-live[data-visitors])::before{content:"";display:inline-block;vertical-align:middle;' +
    'width:var(--tally-live-dot-size,.5em);height:var(--tally-live-dot-size,.5em);margin-right:.4em;' +
    'border-radius:50%;background:var(--tally-live-dot,#16a34a)}' +
    ':where(.tally-live--offline)::before{background:var(--tally-live-dot-offline,#9ca3af)}';
  (document.head || document.documentElement).appendChild(style);

  // Without a target, the counter goes where the tag is (or at the end of <body> for a tag in <head>).
  if (!target && script.parentNode && script.parentNode !== document.head) {
    script.parentNode.insertBefore(el, script.nextSibling);
    decorate();
  } else if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', place);
  } else {
    place();
  }
  connect();
})();
`;

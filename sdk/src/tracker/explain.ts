/**
 * Why the tracker counts nothing on this page, said once in the console: only in `t.local.js`,
 * which the worker serves in place of `t.js` to pages on a local host (localhost, 127.x, [::1]),
 * where a site owner tries the snippet and would otherwise see nothing happen and no cause. The
 * default `t.js` has no room for it (its budget is 1 KB gzipped) and no need: a site in production
 * is counted. `t.local.js` wraps `ignored()` with it (sdk/scripts/tracker.mjs).
 */
import { config, excludePattern } from './config.ts';

let told = false;

/** The first reason `ignored()` holds, in its order; `page` is `currentPage()`. */
function reason(optOutKey: string, page: string): string {
  try {
    if (+localStorage[optOutKey]) return `this browser opted out (tally.optIn() undoes it)`;
  } catch {
    // Storage disabled: the visitor cannot have opted out here.
  }
  if (config.respectDnt != null && navigator.doNotTrack === '1')
    return 'Do Not Track is on and the tag has data-respect-dnt';
  if (config.exclude && excludePattern(config.exclude).test(page))
    return `its path matches data-exclude="${config.exclude}"`;
  if (navigator.webdriver) return 'an automated browser is not counted without data-allow-local on the tag';
  return 'a page on a local host is not counted without data-allow-local on the tag';
}

/** Pass `ignored()`'s answer through, saying why in the console the first time it holds. */
export function explain(ignore: unknown, optOutKey: string, page: () => string): unknown {
  if (ignore && !told) {
    told = true;
    console.info(`Tally: this page is not counted: ${reason(optOutKey, page())}.`);
  }
  return ignore;
}

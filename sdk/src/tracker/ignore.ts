/**
 * When the tracker stays silent: the visitor opted out, the site honours Do Not Track and the
 * browser sends it, the page is excluded, or the page runs locally (`localhost`, `*.localhost`,
 * `127.*`, `0.0.0.0`, `[::1]`; a public host cannot end in `localhost`) or in an automated
 * browser (`navigator.webdriver`: a developer's machine and test runs are not visitors) unless the
 * site allows it. Headless user agents need no check here: ingest drops them as bots.
 */
import { config, excludePattern } from './config.ts';

/**
 * The localStorage flag of the opt-out, `'1'` when set. It stores a preference, never an
 * identifier: every visitor who opted out holds the same value.
 */
export const OPT_OUT_KEY = 'tally_ignore';

/**
 * Stop sending events from this browser, for this site, until `optIn()`. Throws where the
 * browser allows no storage, as it cannot be remembered there.
 */
export function optOut(): void {
  localStorage[OPT_OUT_KEY] = 1;
}

/** Undo `optOut()`. */
export function optIn(): void {
  localStorage[OPT_OUT_KEY] = 0;
}

/** The page as exclusions and pageview de-duplication see it: the path, plus the route with hash routing. */
export function currentPage(): string {
  return location.pathname + (config.hash != null ? location.hash : '');
}

/** Whether the visitor opted out in this browser. */
function optedOut(): unknown {
  try {
    return +localStorage[OPT_OUT_KEY];
  } catch {
    // Storage disabled (privacy modes, sandboxed frames): the visitor cannot have opted out here.
  }
}

/** Whether an event must not be sent now. Checked per event, so `optOut()` takes effect at once. */
export function ignored(): unknown {
  return (
    optedOut() ||
    (config.respectDnt != null && navigator.doNotTrack === '1') ||
    (config.exclude && excludePattern(config.exclude).test(currentPage())) ||
    (config.allowLocal == null &&
      (/^(127\.|\[::1|0\.0\.0\.0)|localhost$/.test(location.hostname) || navigator.webdriver))
  );
}

/**
 * What a page asks of the tracker. The script tag's `data-*` attributes are the settings as they
 * stand (`script.dataset`, plus the endpoint), and the npm SDK's `init()` builds the same shape:
 * a switch is on when its value is a string, as an attribute is on when present (`data-hash`
 * reads `''`). Reading the dataset as it is keeps the tracker small.
 */

/** The tracker's settings, fixed when it starts. */
export interface TrackerConfig {
  /** The project's public site key (`data-site`). */
  site?: string;
  /** Where events are posted: the API's base URL (a path prefix included) plus `EVENT_PATH`. */
  endpoint: string | URL;
  /** Hash routing (`data-hash`): the `#/…` route is part of the page. */
  hash?: string;
  /** Pages on which nothing is sent (`data-exclude="/admin*, /drafts/*"`), see `excludePattern`. */
  exclude?: string;
  /** Send nothing when the browser says Do Not Track (`data-respect-dnt`). */
  respectDnt?: string;
  /** Count localhost and automated browsers too (`data-allow-local`), which are ignored by default. */
  allowLocal?: string;
  /** Count clicks on links to other hosts (`data-outbound`). */
  outbound?: string;
  /** Count clicks on links to files (`data-downloads`, or `data-downloads="pdf|epub"` for other types). */
  downloads?: string;
}

/**
 * The settings in force, set once by `configure`. Undefined before (and on the server), which
 * only `track` and `init` need to check: every listener, timer and send starts after `configure`,
 * and a type that admitted undefined would make each of them pay bytes for a check.
 */
export let config: TrackerConfig;

/** Fix the tracker's settings. The first call wins, so a second `init()` cannot re-route events. */
export function configure(next: TrackerConfig): void {
  config ??= next;
}

/**
 * Page patterns as one anchored expression: separated by commas or spaces (paths hold none: the
 * browser encodes them), `*` matches any characters (`/` included, so `/admin*` covers everything
 * below `/admin`). As in Plausible's `data-exclude`, other characters are regular-expression
 * syntax; an unescaped `.` matches any character, `.` included.
 *
 * @example
 * ```ts
 * excludePattern('/admin*, /drafts/*').test('/admin/users/1'); // true
 * ```
 */
export function excludePattern(patterns: string): RegExp {
  // An empty alternative (from a leading comma) matches only '', which no path is.
  return new RegExp(`^(${patterns.replace(/[\s,]+/g, '|').replace(/\*/g, '.*')})$`);
}

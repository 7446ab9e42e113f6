/** IANA timezones the browser knows, for the timezone pickers; the user's own comes first. */
export function timeZones(): string[] {
  const own = browserTimeZone();
  let all: string[] = [];
  try {
    all = Intl.supportedValuesOf('timeZone');
  } catch {
    all = [];
  }
  // Intl lists canonical zones only; UTC and the user's own are added in case it is an alias.
  return [...new Set([own, 'UTC', ...all])];
}

/** The browser's timezone, or UTC. */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

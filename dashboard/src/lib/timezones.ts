/**
 * IANA timezones for the timezone pickers, by their current canonical names. Some ICU builds (and
 * Node's) still list CLDR's old ids — Asia/Calcutta, Europe/Kiev — so those are mapped to the
 * names IANA uses today; both spellings name the same zone to the Worker (`Intl` accepts either).
 */

/** CLDR's legacy ids that ICU may still list, and the IANA name each became. */
const RENAMED: Record<string, string> = {
  'Africa/Asmera': 'Africa/Asmara',
  'America/Buenos_Aires': 'America/Argentina/Buenos_Aires',
  'America/Catamarca': 'America/Argentina/Catamarca',
  'America/Coral_Harbour': 'America/Atikokan',
  'America/Cordoba': 'America/Argentina/Cordoba',
  'America/Godthab': 'America/Nuuk',
  'America/Indianapolis': 'America/Indiana/Indianapolis',
  'America/Jujuy': 'America/Argentina/Jujuy',
  'America/Louisville': 'America/Kentucky/Louisville',
  'America/Mendoza': 'America/Argentina/Mendoza',
  'Asia/Calcutta': 'Asia/Kolkata',
  'Asia/Katmandu': 'Asia/Kathmandu',
  'Asia/Rangoon': 'Asia/Yangon',
  'Asia/Saigon': 'Asia/Ho_Chi_Minh',
  'Asia/Ulan_Bator': 'Asia/Ulaanbaatar',
  'Atlantic/Faeroe': 'Atlantic/Faroe',
  'Europe/Kiev': 'Europe/Kyiv',
  'Pacific/Enderbury': 'Pacific/Kanton',
  'Pacific/Ponape': 'Pacific/Pohnpei',
  'Pacific/Truk': 'Pacific/Chuuk',
  'Etc/UTC': 'UTC',
  'Etc/GMT': 'UTC',
};

/** The old names of each renamed zone, so that a search for "Calcutta" still finds Asia/Kolkata. */
const OLD_NAMES = new Map<string, string>(Object.entries(RENAMED).map(([old, name]) => [name, old]));

/**
 * The name IANA uses today for a zone.
 *
 * @example
 * ```ts
 * canonicalZone('Asia/Calcutta'); // 'Asia/Kolkata'
 * ```
 */
export function canonicalZone(zone: string): string {
  return RENAMED[zone] ?? zone;
}

/** A zone's former name, if it had one (`Asia/Kolkata` → `Asia/Calcutta`). */
export function formerName(zone: string): string | undefined {
  return OLD_NAMES.get(zone);
}

/** IANA timezones the browser knows, by canonical name; the user's own and UTC come first. */
export function timeZones(): string[] {
  let all: string[] = [];
  try {
    all = Intl.supportedValuesOf('timeZone');
  } catch {
    all = [];
  }
  // UTC and the user's own are added in case the list leaves them out.
  return [...new Set([browserTimeZone(), 'UTC', ...all].map(canonicalZone))];
}

/**
 * A zone's offset from UTC at `at`, as `UTC+05:30` (or `UTC+00:00`); empty when the runtime
 * cannot say. It changes with daylight saving time, so it is the offset now, not the zone's.
 */
export function zoneOffset(zone: string, at: number = Date.now()): string {
  try {
    const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' }).formatToParts(at);
    const name = parts.find((part) => part.type === 'timeZoneName')?.value ?? '';
    // ICU writes no offset as a bare "GMT"; the list reads better (and searches) with "+00:00".
    return name === 'GMT' ? 'UTC+00:00' : name.replace(/^GMT/, 'UTC');
  } catch {
    return '';
  }
}

/** The browser's timezone by its canonical name, or UTC. */
export function browserTimeZone(): string {
  try {
    return canonicalZone(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
  } catch {
    return 'UTC';
  }
}

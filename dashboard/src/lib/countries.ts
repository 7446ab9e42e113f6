/** Country names and flags from ISO 3166-1 alpha-2 codes, with the browser's own name tables. */

let names: Intl.DisplayNames | null | undefined;

/** `DE` → `Germany`; the code itself when the browser has no name for it. */
export function countryName(code: string | null): string {
  if (!code) return 'Unknown';
  if (names === undefined) {
    try {
      names = new Intl.DisplayNames(['en'], { type: 'region' });
    } catch {
      names = null;
    }
  }
  try {
    return names?.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

/** `DE` → 🇩🇪 (regional indicator symbols); empty for anything that is not two letters. */
export function countryFlag(code: string | null): string {
  if (!code || !/^[A-Za-z]{2}$/.test(code)) return '';
  const base = 0x1f1e6 - 65;
  const upper = code.toUpperCase();
  return String.fromCodePoint(base + upper.charCodeAt(0), base + upper.charCodeAt(1));
}

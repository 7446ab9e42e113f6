import { describe, expect, it } from 'vitest';
import { canonicalZone, formerName, timeZones, zoneOffset } from './timezones.ts';

describe('timeZones', () => {
  // Node's ICU, like some browsers', still lists CLDR's old ids: none of them may reach the picker.
  it('lists canonical IANA names only, each once', () => {
    const zones = timeZones();
    expect(zones).toEqual(expect.arrayContaining(['UTC', 'Asia/Kolkata', 'Europe/Kyiv', 'Asia/Ho_Chi_Minh']));
    for (const old of ['Asia/Calcutta', 'Europe/Kiev', 'Asia/Saigon', 'America/Godthab', 'Asia/Katmandu']) {
      expect(zones).not.toContain(old);
    }
    expect(new Set(zones).size).toBe(zones.length);
  });

  it('maps old names to new ones, and remembers the old one for search', () => {
    expect(canonicalZone('Asia/Calcutta')).toBe('Asia/Kolkata');
    expect(canonicalZone('Europe/Kiev')).toBe('Europe/Kyiv');
    expect(canonicalZone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(formerName('Asia/Kolkata')).toBe('Asia/Calcutta');
    expect(formerName('Europe/Berlin')).toBeUndefined();
  });

  it('says the offset at an instant, daylight saving time included', () => {
    const winter = Date.UTC(2026, 0, 15);
    const summer = Date.UTC(2026, 6, 15);
    expect(zoneOffset('Asia/Kolkata', winter)).toBe('UTC+05:30');
    expect(zoneOffset('UTC', winter)).toBe('UTC+00:00');
    expect(zoneOffset('Europe/Berlin', winter)).toBe('UTC+01:00');
    expect(zoneOffset('Europe/Berlin', summer)).toBe('UTC+02:00');
    expect(zoneOffset('America/New_York', summer)).toBe('UTC-04:00');
    expect(zoneOffset('Not/AZone', winter)).toBe('');
  });
});

import { describe, expect, it } from 'vitest';
import { parseLiveMessage, visitorsElsewhere } from './live-message.ts';

describe('parseLiveMessage', () => {
  it('reads snapshots and updates', () => {
    const message = {
      type: 'update',
      visitors: 2,
      pages: [{ path: '/', visitors: 2 }],
      countries: [{ country: 'DE', visitors: 2 }],
      recent: [{ ts: 1, name: 'pageview', path: '/', country: 'DE', source: null }],
    };
    expect(parseLiveMessage(JSON.stringify(message))).toEqual(message);
  });

  it('fills missing lists', () => {
    expect(parseLiveMessage('{"type":"snapshot","visitors":0}')).toEqual({
      type: 'snapshot',
      visitors: 0,
      pages: [],
      countries: [],
      recent: [],
    });
  });

  it.each(['not json', '{"type":"count","visitors":1}', '{"type":"update"}', 'null', '[]'])('ignores %s', (text) => {
    expect(parseLiveMessage(text)).toBeNull();
  });

  it('ignores binary frames', () => {
    expect(parseLiveMessage(new ArrayBuffer(4))).toBeNull();
  });
});

describe('visitorsElsewhere', () => {
  it('counts the visitors on pages the card does not list: 5 visitors, 3 pages of 1 listed, +2 more', () => {
    const pages = ['/a', '/b', '/c', '/d', '/e'].map((path) => ({ path, visitors: 1 }));
    expect(visitorsElsewhere({ visitors: 5, pages }, 3)).toBe(2);
    expect(visitorsElsewhere({ visitors: 5, pages: pages.slice(0, 3) }, 3)).toBe(2);
    expect(visitorsElsewhere({ visitors: 2, pages: [{ path: '/', visitors: 2 }] }, 3)).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { parseLiveMessage } from './live-message.ts';

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

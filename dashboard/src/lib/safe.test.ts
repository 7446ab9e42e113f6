import { describe, expect, it } from 'vitest';
import { safeHttpUrl } from './safe.ts';

describe('safeHttpUrl', () => {
  it('keeps absolute http and https URLs', () => {
    expect(safeHttpUrl('https://news.ycombinator.com/item?id=1')).toBe('https://news.ycombinator.com/item?id=1');
    expect(safeHttpUrl('http://example.com')).toBe('http://example.com/');
  });

  it.each([
    'javascript:alert(1)',
    ' javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'java\tscript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:msgbox(1)',
    '//evil.example/x',
    '/relative',
    '',
    null,
    undefined,
  ])('refuses %s', (value) => {
    expect(safeHttpUrl(value)).toBeNull();
  });
});

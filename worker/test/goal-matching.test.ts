/**
 * The pure goal matching the query engine and its oracle share: Plausible's path wildcards, and
 * event goals with an optional property compared by its string form.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type GoalStep, goalMatches, pathMatches, pathPatternRegExp } from '../src/stats/goal-matching.ts';

describe('pathMatches', () => {
  const cases: [pattern: string, path: string, matches: boolean][] = [
    ['/', '/', true],
    ['/', '/a', false],
    ['/', '', false],
    ['/blog', '/blog', true],
    ['/blog', '/blog/', false],
    ['/blog', '/blogs', false],
    ['/blog', '/x/blog', false],
    ['/blog/*', '/blog/a', true],
    ['/blog/*', '/blog/', true],
    ['/blog/*', '/blog/a/b', false],
    ['/blog/*', '/blog', false],
    ['/blog/**', '/blog/a', true],
    ['/blog/**', '/blog/a/b', true],
    ['/blog/**', '/blog/', true],
    ['/blog/**', '/blog', false],
    ['/blog**', '/blog', true],
    ['/blog**', '/blog/a/b', true],
    ['/*', '/', true],
    ['/*', '/pricing', true],
    ['/*', '/a/b', false],
    ['/**', '/a/b/c', true],
    ['**', '/anything/at/all', true],
    ['/*/settings', '/acme/settings', true],
    ['/*/settings', '/acme/team/settings', false],
    ['/**/settings', '/acme/team/settings', true],
    ['/**/settings', '/acme/team/settings/x', false],
    ['/post-*.html', '/post-42.html', true],
    ['/post-*.html', '/post-42xhtml', false],
    ['/a*b*c', '/abc', true],
    ['/a*b*c', '/a-x-b-y-c', true],
    ['/a*b*c', '/a/b/c', false],
    ['/***', '/a/b', true],
    // Regex metacharacters are literal.
    ['/a.b+(c)', '/a.b+(c)', true],
    ['/a.b+(c)', '/axbb(c)', false],
    ['/a.b+(c)', '/a.bbc', false],
    ['/[x]', '/[x]', true],
    ['/[x]', '/x', false],
    ['/a|b', '/a|b', true],
    ['/a|b', '/a', false],
    ['/^$?', '/^$?', true],
    ['/^$?', '/^$', false],
    ['/\\d', '/\\d', true],
    ['/\\d', '/1', false],
    ['/{1,2}', '/{1,2}', true],
    ['/#/app/*', '/#/app/inbox', true],
    ['/café/*', '/café/menu', true],
  ];

  for (const [pattern, path, matches] of cases) {
    it(`${JSON.stringify(pattern)} ${matches ? 'matches' : 'does not match'} ${JSON.stringify(path)}`, () => {
      expect(pathMatches(pattern, path)).toBe(matches);
    });
  }

  it('compiles each pattern once', () => {
    expect(pathPatternRegExp('/cached/*')).toBe(pathPatternRegExp('/cached/*'));
  });

  it('a pattern without wildcards matches exactly itself', () => {
    const plain = fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => `/${s.replaceAll('*', '')}`);
    fc.assert(
      fc.property(plain, plain, (pattern, path) => {
        expect(pathMatches(pattern, pattern)).toBe(true);
        expect(pathMatches(pattern, path)).toBe(pattern === path);
      }),
      { numRuns: 500 },
    );
  });

  it('`**` matches any continuation, `*` any continuation without a slash', () => {
    const segment = fc.string({ maxLength: 20 }).map((s) => s.replaceAll('*', ''));
    fc.assert(
      fc.property(segment, segment, (prefix, rest) => {
        expect(pathMatches(`/${prefix}**`, `/${prefix}${rest}`)).toBe(true);
        expect(pathMatches(`/${prefix}*`, `/${prefix}${rest}`)).toBe(!rest.includes('/'));
      }),
      { numRuns: 500 },
    );
  });
});

describe('goalMatches', () => {
  const pageview = (path: string) => ({ name: 'pageview', path, props: null });
  const event = (name: string, props: Record<string, string | number | boolean> | null = null) => ({
    name,
    path: '/checkout',
    props,
  });

  it('a pageview goal wants a page view whose path matches', () => {
    const goal: GoalStep = { kind: 'pageview', path: '/checkout/*' };
    expect(goalMatches(goal, pageview('/checkout/done'))).toBe(true);
    expect(goalMatches(goal, pageview('/checkout/done/again'))).toBe(false);
    // A custom event on a matching page is not a page view.
    expect(goalMatches(goal, { name: 'click', path: '/checkout/done', props: null })).toBe(false);
  });

  it('an event goal wants its event name, exactly', () => {
    const goal: GoalStep = { kind: 'event', eventName: 'Signup' };
    expect(goalMatches(goal, event('Signup'))).toBe(true);
    expect(goalMatches(goal, event('Signup', { plan: 'pro' }))).toBe(true);
    expect(goalMatches(goal, event('signup'))).toBe(false);
    expect(goalMatches(goal, event('Signup2'))).toBe(false);
    expect(goalMatches({ kind: 'event', eventName: 'pageview' }, pageview('/any'))).toBe(true);
  });

  it('a property is compared by its string form', () => {
    const plan: GoalStep = { kind: 'event', eventName: 'buy', propertyKey: 'plan', propertyValue: 'pro' };
    expect(goalMatches(plan, event('buy', { plan: 'pro' }))).toBe(true);
    expect(goalMatches(plan, event('buy', { plan: 'Pro' }))).toBe(false);
    expect(goalMatches(plan, event('buy', { other: 'pro' }))).toBe(false);
    expect(goalMatches(plan, event('buy'))).toBe(false);
    expect(goalMatches(plan, event('sell', { plan: 'pro' }))).toBe(false);

    const seats: GoalStep = { kind: 'event', eventName: 'buy', propertyKey: 'seats', propertyValue: '5' };
    expect(goalMatches(seats, event('buy', { seats: 5 }))).toBe(true);
    expect(goalMatches(seats, event('buy', { seats: '5' }))).toBe(true);
    expect(goalMatches(seats, event('buy', { seats: 5.5 }))).toBe(false);
    const price: GoalStep = { kind: 'event', eventName: 'buy', propertyKey: 'price', propertyValue: '9.99' };
    expect(goalMatches(price, event('buy', { price: 9.99 }))).toBe(true);

    const trial: GoalStep = { kind: 'event', eventName: 'buy', propertyKey: 'trial', propertyValue: 'true' };
    expect(goalMatches(trial, event('buy', { trial: true }))).toBe(true);
    expect(goalMatches(trial, event('buy', { trial: false }))).toBe(false);
    expect(goalMatches(trial, event('buy', { trial: 'true' }))).toBe(true);

    const empty: GoalStep = { kind: 'event', eventName: 'buy', propertyKey: 'note', propertyValue: '' };
    expect(goalMatches(empty, event('buy', { note: '' }))).toBe(true);
    expect(goalMatches(empty, event('buy'))).toBe(false);
  });

  it('never finds a property on the prototype', () => {
    for (const key of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const goal: GoalStep = { kind: 'event', eventName: 'x', propertyKey: key, propertyValue: 'undefined' };
      expect(goalMatches(goal, event('x', {})), key).toBe(false);
      expect(goalMatches(goal, event('x', null)), key).toBe(false);
      expect(goalMatches(goal, event('x', Object.fromEntries([[key, 'undefined']]))), key).toBe(true);
    }
  });

  it('a null property key (as stored) means no property is required', () => {
    const goal: GoalStep = { kind: 'event', eventName: 'x', propertyKey: null, propertyValue: null };
    expect(goalMatches(goal, event('x'))).toBe(true);
  });
});

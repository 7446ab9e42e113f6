/**
 * Acquisition channels (docs/STATS.md, "Channels"): a table of landing URLs and referrers through
 * `enrichEvent`, as ingest sees them, then properties of the rules over random inputs, then one
 * event through `POST /api/event` to its stored row.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHANNELS, channelOf } from '../src/ingest/channels.ts';
import { enrichEvent } from '../src/ingest/enrich.ts';
import { createProject, pageview, postEvent, waitForEvents } from './helpers.ts';

const visitor = { userAgent: '', cf: undefined, acceptLanguage: '' };
/** The channel ingest gives a pageview of `query` on example.com arriving from `referrer`. */
const channel = (query: string, referrer?: string) =>
  enrichEvent(
    { n: 'pageview', u: `https://example.com/landing${query}`, ...(referrer ? { r: referrer } : {}) },
    'p',
    0,
    0,
    visitor,
  ).channel;

describe('channel of a landing', () => {
  it.each([
    // [channel, query, referrer]
    ['Direct', '', undefined],
    ['Direct', '?gclid=x', undefined],
    ['Direct', '', 'https://example.com/pricing'],
    ['Organic Search', '', 'https://www.google.co.uk/'],
    ['Organic Search', '', 'https://duckduckgo.com/'],
    ['Organic Search', '', 'https://search.brave.com/search'],
    ['Organic Search', '?utm_medium=email', 'https://www.bing.com/'],
    ['Paid Search', '?utm_source=google&utm_medium=cpc&utm_campaign=brand', 'https://www.google.com/'],
    ['Paid Search', '?utm_source=GOOGLE&utm_medium=PPC', undefined],
    ['Paid Search', '?utm_source=adwords', undefined],
    ['Paid Search', '?gclid=abc', 'https://www.google.com/'],
    ['Paid Search', '?msclkid=abc', 'https://www.bing.com/'],
    ['Organic Search', '?msclkid=abc', 'https://www.google.com/'],
    ['Organic Social', '', 'https://t.co/abc'],
    ['Organic Social', '', 'https://news.ycombinator.com/item'],
    ['Organic Social', '', 'https://m.facebook.com/'],
    ['Organic Social', '?utm_source=ig', undefined],
    ['Organic Social', '?utm_source=producthunt&utm_medium=social&utm_campaign=launch', undefined],
    ['Organic Social', '?utm_source=partner&utm_medium=social-media', undefined],
    ['Paid Social', '?utm_source=facebook&utm_medium=paid_social', undefined],
    ['Paid Social', '?utm_source=fb-ads', undefined],
    ['Paid Social', '?utm_source=linkedin&utm_medium=cpc', 'https://www.linkedin.com/'],
    ['Organic Video', '', 'https://www.youtube.com/watch'],
    ['Organic Video', '?utm_source=partner&utm_medium=video', undefined],
    ['Paid Video', '?utm_source=yt-ads', undefined],
    ['Paid Video', '?utm_source=youtube&utm_medium=cpv', undefined],
    ['Display', '?utm_source=adnet&utm_medium=banner', undefined],
    ['Display', '?utm_source=adnet&utm_medium=cpm', undefined],
    ['Paid Other', '?utm_source=adnet&utm_medium=cpc', undefined],
    ['Paid Other', '?utm_medium=retargeting', undefined],
    ['Cross-network', '?utm_source=google&utm_medium=cpc&utm_campaign=pmax-cross-network', undefined],
    ['Paid Shopping', '?utm_source=amazon&utm_medium=cpc', undefined],
    ['Paid Shopping', '?utm_source=google&utm_medium=cpc&utm_campaign=shopping_q4', undefined],
    ['Organic Shopping', '', 'https://www.etsy.com/shop/x'],
    ['Organic Shopping', '?utm_campaign=black-friday-shop', undefined],
    ['Direct', '?utm_campaign=workshop', undefined],
    ['Organic Shopping', '', 'https://www.amazon.co.uk/dp/1'],
    ['AI Assistants', '', 'https://chatgpt.com/'],
    ['AI Assistants', '', 'https://www.perplexity.ai/search'],
    ['Email', '?utm_source=newsletter&utm_medium=email&utm_campaign=winter_sale', undefined],
    ['Email', '?utm_source=Weekly-Newsletter', undefined],
    ['Email', '', 'https://mail.google.com/'],
    ['Affiliates', '?utm_source=partner&utm_medium=affiliate', undefined],
    ['Audio', '?utm_source=podcast&utm_medium=audio', undefined],
    ['SMS', '?utm_source=sms', undefined],
    ['Mobile Push Notifications', '?utm_source=app&utm_medium=web-push', undefined],
    ['Mobile Push Notifications', '?utm_source=app&utm_medium=notification', undefined],
    ['Referral', '', 'https://blog.partner.example/review'],
    ['Referral', '', 'https://github.com.evil.example/'],
    ['Referral', '?utm_medium=referral', undefined],
    ['Referral', '?ref=someblog', undefined],
  ])('%s: %s from %s', (expected, query, referrer) => {
    expect(channel(query, referrer)).toBe(expected);
  });
});

const text = fc.oneof(
  fc.constant(null),
  fc.constantFrom('google', 'Facebook', 'yt-ads', 'email', 'cpc', 'CPM', 'social', 'shop', 'affiliate', 'sms', 'x'),
  fc.string({ maxLength: 12 }),
);
const input = fc.record({
  source: text,
  utmSource: text,
  utmMedium: text,
  utmCampaign: text,
  clickId: fc.constantFrom(null, 'gclid' as const, 'msclkid' as const),
});

describe('channel rules', () => {
  it('give every input one of the channels, ignoring case', () => {
    fc.assert(
      fc.property(input, (given) => {
        const found = channelOf(given);
        expect(CHANNELS).toContain(found);
        const upper = (value: string | null) => value?.toUpperCase() ?? null;
        expect(
          channelOf({
            ...given,
            source: upper(given.source),
            utmSource: upper(given.utmSource),
            utmMedium: upper(given.utmMedium),
            utmCampaign: upper(given.utmCampaign),
          }),
        ).toBe(found);
      }),
    );
  });

  it('call a visit Direct exactly when it has no source and nothing in its medium or campaign tells', () => {
    fc.assert(
      fc.property(input, (given) => {
        const found = channelOf(given);
        if (given.source) expect(found).not.toBe('Direct');
        if (found === 'Direct') expect(channelOf({ ...given, clickId: null })).toBe('Direct');
      }),
    );
    expect(channelOf({ source: null, utmSource: null, utmMedium: null, utmCampaign: null, clickId: 'gclid' })).toBe(
      'Direct',
    );
  });

  it('never call a paid medium organic', () => {
    const organic = ['Organic Search', 'Organic Social', 'Organic Video', 'Organic Shopping', 'Referral', 'Direct'];
    fc.assert(
      fc.property(input, fc.constantFrom('cpc', 'ppc', 'paid_social', 'retargeting', 'cpv'), (given, medium) => {
        expect(organic).not.toContain(channelOf({ ...given, utmMedium: medium }));
      }),
    );
  });
});

describe('ingest', () => {
  it('stores the channel of each event', async () => {
    const project = await createProject();
    const res = await postEvent([
      pageview(project.siteKey, {
        u: 'https://example.com/a?utm_source=google&utm_medium=cpc',
        r: 'https://www.google.com/',
      }),
      pageview(project.siteKey, { u: 'https://example.com/b', r: 'https://www.reddit.com/r/webdev' }),
      pageview(project.siteKey, { u: 'https://example.com/c' }),
    ]);
    expect(res.status).toBe(202);
    const rows = await waitForEvents(project.id, 3);
    expect(Object.fromEntries(rows.map((row) => [row.path, row.channel]))).toEqual({
      '/a': 'Paid Search',
      '/b': 'Organic Social',
      '/c': 'Direct',
    });
  });
});

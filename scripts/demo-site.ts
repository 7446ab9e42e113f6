/**
 * A small local website with the Tally snippet, served by `npm run dev`, so that clicking around
 * in it makes live numbers appear on the dashboard: a few pages, a signup button that sends a
 * custom event, an outbound link and a file download.
 */
import { createServer, type Server } from 'node:http';

/** What the demo pages need to load the tracker. */
export interface DemoSiteOptions {
  host: string;
  port: number;
  /** Origin that serves `/t.js` (the API worker). */
  trackerOrigin: string;
  siteKey: string;
}

const PAGES: Record<string, { title: string; body: string }> = {
  '/': {
    title: 'Acme Widgets',
    body: `<h1>Acme Widgets</h1>
<p>Welcome to the Tally demo site. Every page you open here is counted on the dashboard within a second.</p>
<p>Try the <a href="/pricing">pricing</a>, read the <a href="/blog/launch-week">launch post</a>, or
<a href="/signup">sign up</a> to send a custom event.</p>`,
  },
  '/pricing': {
    title: 'Pricing',
    body: `<h1>Pricing</h1><ul><li>Free — 10k pageviews</li><li>Pro — 1M pageviews</li><li>Team — everything</li></ul>
<p><a href="/signup">Start now</a></p>`,
  },
  '/features': {
    title: 'Features',
    body: `<h1>Features</h1><p>Fast, private, no cookies. <a href="https://github.com/">We are on GitHub</a> (an outbound link).</p>`,
  },
  '/blog/launch-week': {
    title: 'Launch week',
    body: `<h1>Launch week</h1><p>It is here. <a href="/docs/getting-started">Get started</a> or
<a href="/files/whitepaper.pdf">download the whitepaper</a> (a file download).</p>`,
  },
  '/docs/getting-started': {
    title: 'Getting started',
    body: `<h1>Getting started</h1><p>Paste the snippet into your pages. That is all.</p>`,
  },
  '/signup': {
    title: 'Sign up',
    body: `<h1>Sign up</h1>
<p>Pick a plan; the button sends the custom event <code>signup</code> with a <code>plan</code> property.</p>
<p><button type="button" data-plan="free">Sign up free</button> <button type="button" data-plan="pro">Go Pro</button></p>
<p id="thanks" hidden>Thanks! Look for <code>signup</code> under Custom events.</p>
<script>
  for (const button of document.querySelectorAll('button[data-plan]')) {
    button.addEventListener('click', () => {
      tally('signup', { props: { plan: button.dataset.plan } });
      document.getElementById('thanks').hidden = false;
    });
  }
</script>`,
  },
};

function page(path: string, options: DemoSiteOptions): string | null {
  const content = PAGES[path];
  if (!content) return null;
  const nav = Object.entries(PAGES)
    .map(([href, { title }]) => `<a href="${href}">${title}</a>`)
    .join(' · ');
  // data-allow-local: the tracker ignores localhost unless told otherwise; this site lives there.
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${content.title} · Tally demo site</title>
<script>window.tally = window.tally || function () { (tally.q = tally.q || []).push(arguments) }</script>
<script defer src="${options.trackerOrigin}/t.js" data-site="${options.siteKey}" data-allow-local data-outbound data-downloads></script>
<style>body{font:16px/1.6 system-ui,sans-serif;max-width:680px;margin:40px auto;padding:0 16px;color:#1f2937}
nav{font-size:14px;margin-bottom:32px}a{color:#4f46e5}button{font:inherit;padding:6px 14px;cursor:pointer}</style>
</head><body><nav>${nav}</nav>${content.body}</body></html>`;
}

/**
 * Serve the demo site until the process exits.
 *
 * @example
 * ```ts
 * await startDemoSite({ host: '127.0.0.1', port: 8789, trackerOrigin: 'http://127.0.0.1:8787', siteKey: 'demo' });
 * ```
 */
export function startDemoSite(options: DemoSiteOptions): Promise<Server> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://demo.local').pathname;
    const html = page(path, options);
    if (path.startsWith('/files/')) {
      response.writeHead(200, { 'Content-Type': 'application/pdf' }).end('%PDF-1.4\n% Tally demo file\n');
      return;
    }
    response
      .writeHead(html ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
      .end(html ?? page('/', options)?.replace('<h1>Acme Widgets</h1>', '<h1>Not found</h1>'));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}

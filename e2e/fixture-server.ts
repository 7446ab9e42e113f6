/**
 * The sites under test: a small node:http server on 127.0.0.1 that serves `fixtures/*.html` and
 * stands between the pages and the worker, as a site's own proxy would. It forwards the tracker
 * (`/t.js`, `/t.*.js`) and `POST /api/event` to the worker and records every event request —
 * body, content type, and the worker's answer — so tests can compare what the browser sent with
 * what D1 stored.
 *
 * Pages name `{{WORKER}}` for the worker's own origin (a script loaded cross-origin from it) and
 * `{{OTHER}}` for this server under the hostname `localhost`, another site to the browser. Any
 * path below a fixture's name (`/spa/<run>/about`) serves that fixture, so each test can give its
 * pages URLs of their own; `/files/*` answers a small attachment.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './harness.ts';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** One `POST /api/event` as it passed through. */
export interface CapturedRequest {
  contentType: string;
  userAgent: string;
  /** The body as the browser sent it, parsed. */
  body: unknown;
  /** The worker's answer. */
  status: number;
  answer: unknown;
}

/** A running fixture server. */
export interface FixtureServer {
  /** Its origin on 127.0.0.1. */
  url: string;
  /** The same server under the hostname `localhost`: another host for the page, hence outbound. */
  localhostUrl: string;
  captured: CapturedRequest[];
  stop(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      text += chunk;
    });
    request.on('end', () => resolve(text));
    request.on('error', reject);
  });
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Start the fixture server in front of a worker.
 *
 * @example
 * ```ts
 * const site = await startFixtureServer(worker.url);
 * await page.goto(`${site.url}/basic.html`);
 * ```
 */
export async function startFixtureServer(workerUrl: string, port?: number): Promise<FixtureServer> {
  const captured: CapturedRequest[] = [];
  const listenPort = port ?? (await freePort());

  async function proxyEvent(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const text = await readBody(request);
    const contentType = request.headers['content-type'] ?? '';
    const userAgent = request.headers['user-agent'] ?? '';
    const answer = await fetch(`${workerUrl}/api/event`, {
      method: 'POST',
      headers: { 'content-type': contentType, 'user-agent': userAgent },
      body: text,
    });
    const answerText = await answer.text();
    captured.push({ contentType, userAgent, body: parse(text), status: answer.status, answer: parse(answerText) });
    response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
    response.end(answerText);
  }

  async function proxyScript(pathname: string, response: ServerResponse): Promise<void> {
    const answer = await fetch(`${workerUrl}${pathname}`);
    response.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'text/plain',
      'cache-control': 'no-store',
    });
    response.end(await answer.text());
  }

  async function page(pathname: string, response: ServerResponse): Promise<void> {
    if (pathname.startsWith('/files/')) {
      response.writeHead(200, {
        'content-type': 'application/pdf',
        'content-disposition': `attachment; filename="${path.basename(pathname)}"`,
      });
      response.end('%PDF-1.4\n%%EOF\n');
      return;
    }
    const name = path.basename(pathname);
    const file = /^[\w-]+\.html$/.test(name) ? name : `${pathname.split('/')[1]}.html`;
    try {
      const html = await readFile(path.join(FIXTURES, file), 'utf8');
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(html.replaceAll('{{WORKER}}', workerUrl).replaceAll('{{OTHER}}', `http://localhost:${listenPort}`));
    } catch {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('no such fixture');
    }
  }

  const server = createServer((request, response) => {
    const { pathname } = new URL(request.url ?? '/', 'http://fixture.invalid');
    let handled: Promise<void>;
    if (pathname === '/api/event' && request.method === 'POST') handled = proxyEvent(request, response);
    else if (/^\/t(\.[\w]+)*\.js$/.test(pathname)) handled = proxyScript(pathname, response);
    else handled = page(pathname, response);
    handled.catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'text/plain' });
      response.end(String(error));
    });
  });
  // 127.0.0.1 and localhost are two hosts to the browser, one server here.
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${listenPort}`,
    localhostUrl: `http://localhost:${listenPort}`,
    captured,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

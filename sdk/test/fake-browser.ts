/**
 * Just enough of a browser for the tracker, installed as globals: location and history that move
 * together, window events, `document.currentScript`, `navigator.sendBeacon`, `fetch`, and a
 * localStorage that stores strings. Every request the tracker makes is recorded.
 */
import { vi } from 'vitest';

/** One request the tracker made, with its body parsed. */
export interface SentRequest {
  via: 'beacon' | 'fetch';
  url: string;
  body: Record<string, unknown>[];
  init?: RequestInit;
}

/** How the fake browser starts. */
export interface BrowserOptions {
  /** The page's URL. */
  url?: string;
  referrer?: string;
  /** `data-*` attributes of the script tag, camel-cased as `dataset` has them. */
  dataset?: Record<string, string>;
  /** Where the script was loaded from. */
  scriptSrc?: string;
  webdriver?: boolean;
  doNotTrack?: string | null;
  /** What sendBeacon answers; `missing` removes it. */
  beacon?: boolean | 'missing';
  /** localStorage throws on every access, as with storage disabled. */
  storageBlocked?: boolean;
}

/** A link the page can click. */
export interface FakeLink {
  href: string;
  host: string;
  pathname: string;
  closest(selector: string): FakeLink | null;
}

/** What a test holds of the browser. */
export interface FakeBrowser {
  sent: SentRequest[];
  /** Every event sent so far, in order, across requests. */
  events(): Record<string, unknown>[];
  storage: Record<string, string>;
  /** Answers of fetch, one per call: a status, or `error` for a network failure. Default 202. */
  fetchAnswers: (number | 'error')[];
  setBeacon(result: boolean | 'missing'): void;
  /** Fire a window event at the listeners the tracker added. */
  fire(type: string, event?: Record<string, unknown>): void;
  /** Move to another URL as the back button does: location changes, then `popstate`. */
  back(url: string): void;
  link(href: string): FakeLink;
  /** Click a link: `button` 0 fires `click`, others `auxclick`. */
  click(link: FakeLink, button?: number): void;
  location: { href: string };
}

export const CHROME_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/**
 * Install the fake browser as globals (undo with `vi.unstubAllGlobals()`).
 *
 * @example
 * ```ts
 * const browser = installBrowser({ url: 'https://example.com/', dataset: { site: 'demo' } });
 * await import('../src/tracker/index.ts');
 * ```
 */
export function installBrowser(options: BrowserOptions = {}): FakeBrowser {
  let url = new URL(options.url ?? 'https://example.com/');
  const listeners = new Map<string, ((event: unknown) => void)[]>();
  const sent: SentRequest[] = [];
  const storage: Record<string, string> = {};
  let beacon = options.beacon ?? true;

  const location = {
    get href() {
      return url.href;
    },
    get pathname() {
      return url.pathname;
    },
    get hash() {
      return url.hash;
    },
    get host() {
      return url.host;
    },
    get hostname() {
      return url.hostname;
    },
    get origin() {
      return url.origin;
    },
    get protocol() {
      return url.protocol;
    },
  };
  const history = {
    state: null as unknown,
    pushState(state: unknown, _title: string, next?: string | URL | null) {
      history.state = state;
      if (next != null) url = new URL(next, url);
    },
    replaceState(state: unknown, _title: string, next?: string | URL | null) {
      history.state = state;
      if (next != null) url = new URL(next, url);
    },
  };
  const localStorageProxy = new Proxy(storage, {
    get(target, key) {
      if (options.storageBlocked) throw new DOMException('The operation is insecure.', 'SecurityError');
      return typeof key === 'string' ? target[key] : undefined;
    },
    set(target, key, value) {
      if (options.storageBlocked) throw new DOMException('The operation is insecure.', 'SecurityError');
      target[key as string] = String(value);
      return true;
    },
  });
  const script = {
    src: options.scriptSrc ?? 'https://tally.example.com/t.js',
    dataset: { ...(options.dataset ?? {}) },
  };
  const document = {
    referrer: options.referrer ?? '',
    hidden: false,
    currentScript: script,
    get cookie(): string {
      throw new Error('the tracker must not read cookies');
    },
    set cookie(_value: string) {
      throw new Error('the tracker must not set cookies');
    },
  };
  const navigator = {
    userAgent: CHROME_UA,
    webdriver: options.webdriver ?? false,
    doNotTrack: options.doNotTrack ?? null,
    get sendBeacon() {
      if (beacon === 'missing') return undefined;
      return (target: string | URL, body: string) => {
        if (beacon === true) sent.push({ via: 'beacon', url: String(target), body: JSON.parse(body) });
        return beacon === true;
      };
    },
  };
  const browser: FakeBrowser = {
    sent,
    events: () => sent.flatMap((request) => request.body),
    storage,
    fetchAnswers: [],
    setBeacon(result) {
      beacon = result;
    },
    fire(type, event = {}) {
      for (const listener of listeners.get(type) ?? []) listener({ type, ...event });
    },
    back(next) {
      url = new URL(next, url);
      browser.fire('popstate');
    },
    link(href) {
      const target = new URL(href, url);
      const link: FakeLink = {
        href: target.href,
        host: target.host,
        pathname: target.pathname,
        closest: (selector) => (selector === 'a' ? link : null),
      };
      return link;
    },
    click(link, button = 0) {
      browser.fire(button === 0 ? 'click' : 'auxclick', { button, target: link });
    },
    location,
  };
  const fetchMock = vi.fn(async (target: string | URL, init?: RequestInit) => {
    sent.push({ via: 'fetch', url: String(target), body: JSON.parse(String(init?.body)), init });
    const answer = browser.fetchAnswers.shift() ?? 202;
    if (answer === 'error') throw new TypeError('Failed to fetch');
    return new Response(null, { status: answer });
  });

  vi.stubGlobal('window', globalThis);
  vi.stubGlobal('location', location);
  vi.stubGlobal('history', history);
  vi.stubGlobal('document', document);
  vi.stubGlobal('navigator', navigator);
  vi.stubGlobal('localStorage', localStorageProxy);
  vi.stubGlobal('innerWidth', 1280);
  vi.stubGlobal('fetch', fetchMock);
  vi.stubGlobal('addEventListener', (type: string, listener: (event: unknown) => void) => {
    listeners.set(type, [...(listeners.get(type) ?? []), listener]);
  });
  return browser;
}

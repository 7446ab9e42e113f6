/**
 * The script-tag tracker (`t.js`): reads its settings from the tag's `data-*` attributes, counts
 * the page, and replaces the queueing stub so that calls made before it loaded are sent in order.
 *
 * ```html
 * <script>window.tally = window.tally || function () { (tally.q = tally.q || []).push(arguments) }</script>
 * <script defer src="https://HOST/t.js" data-site="SITE_KEY"></script>
 * ```
 *
 * Attributes: `data-site` (required), `data-api` (API base URL, a path prefix kept; default the
 * script's origin), `data-hash`, `data-exclude="/admin*, /drafts/*"`, `data-outbound`,
 * `data-downloads[="pdf|epub"]`, `data-respect-dnt`, `data-allow-local` (see `TrackerConfig`).
 */
import { EVENT_PATH } from '../protocol.ts';
import { trackClicks } from './clicks.ts';
import { configure } from './config.ts';
import { type EventOptions, track } from './events.ts';
import { optIn, optOut } from './ignore.ts';
import { trackPageviews } from './navigation.ts';
import { flushOnExit } from './networking.ts';

/** The page's `tally` global: the stub's queue before load, the function after. */
interface TallyGlobal {
  (name: string, options?: EventOptions): void;
  q?: IArguments[];
  optOut?: () => void;
  optIn?: () => void;
}

const script = document.currentScript as HTMLScriptElement;
// `data-api` is a base URL, a path prefix included (a proxy under `/stats`): EVENT_PATH is appended
// to it, and resolved against the script's URL (its origin when there is no `data-api`, as
// `[undefined]` joins to '').
configure({ ...script.dataset, endpoint: new URL([script.dataset.api] + EVENT_PATH, script.src) });
flushOnExit();
trackPageviews();
trackClicks();

const page = window as unknown as { tally?: TallyGlobal };
const queued = page.tally?.q;
const tally = track as TallyGlobal;
tally.optOut = optOut;
tally.optIn = optIn;
page.tally = tally;
queued?.map((args) => track(...(args as unknown as Parameters<typeof track>)));

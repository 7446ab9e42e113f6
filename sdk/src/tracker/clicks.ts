/**
 * Outbound-link and file-download clicks, each enabled by the site (`data-outbound`,
 * `data-downloads`). The event is flushed inside the click handler: a beacon queued there is
 * delivered by the browser even though the page is navigating away, so the link is never held up.
 */
import { config } from './config.ts';
import { track } from './events.ts';
import { flush } from './networking.ts';

/** Event name of a click on a link to another host; its `url` property is the link. */
export const OUTBOUND = 'outbound';
/** Event name of a click on a link to a file; its `url` property is the link. */
export const DOWNLOAD = 'download';
/**
 * The file extensions counted when `data-downloads` names none (`|`-separated, as the attribute
 * takes them). Only the link's path is matched, as in Plausible: `/get?file=x.pdf` is not a
 * download, since a query string naming a file is as often a page's own link.
 */
export const DOWNLOAD_TYPES = 'pdf|zip|csv|docx?|xlsx?|pptx?|dmg|exe|mp[34]';

/** Listen for link clicks with the main button, and the middle one that opens a tab. */
export function trackClicks(): void {
  const onClick = (event: MouseEvent) => {
    // A click dispatched at the document has a target without `closest`.
    const link = (event.target as Element).closest?.('a');
    const name =
      link &&
      event.button < 2 &&
      (config.downloads != null && new RegExp(`\\.(${config.downloads || DOWNLOAD_TYPES})$`, 'i').test(link.pathname)
        ? DOWNLOAD
        : // No host: mailto:, tel:, javascript: and SVG links, none of them another site.
          config.outbound != null && link.host && link.host !== location.host && OUTBOUND);
    if (name) {
      track(name, { props: { url: link.href } });
      flush();
    }
  };
  addEventListener('click', onClick);
  addEventListener('auxclick', onClick);
}

/**
 * Keyboard focus that survives the dashboard re-rendering what holds it. A row that applied a
 * filter is replaced when the filtered answer arrives, a removed filter chip is gone: the browser
 * then drops focus to the page body, and a keyboard user starts again from the top. Instead, focus
 * goes to the element that took its place (the same `data-focus-key`), else to the nearest
 * `[data-focus-home]` around it that is still there (its panel), else to `fallback`.
 */
import type { Attachment } from 'svelte/attachments';

/** Where focus was inside the root: the element, its key, and the homes around it, innermost first. */
interface Held {
  element: HTMLElement;
  key: string | undefined;
  homes: HTMLElement[];
}

/**
 * @example
 * ```svelte
 * <div {@attach keepFocus(() => overview)}>
 *   <section data-focus-home tabindex="-1"><button data-focus-key="page:/pricing">…</button></section>
 * </div>
 * ```
 */
export function keepFocus(fallback: () => HTMLElement | null | undefined): Attachment<HTMLElement> {
  return (root) => {
    let held: Held | null = null;

    const onFocusIn = (event: FocusEvent) => {
      const element = event.target;
      if (!(element instanceof HTMLElement)) return;
      const homes: HTMLElement[] = [];
      for (let home = element.closest<HTMLElement>('[data-focus-home]'); home; ) {
        homes.push(home);
        home = home.parentElement?.closest<HTMLElement>('[data-focus-home]') ?? null;
      }
      held = { element, key: element.dataset.focusKey, homes };
    };
    const onFocusOut = (event: FocusEvent) => {
      // Focus moved on (to another element, or the window lost it) while the element stayed: the
      // user's doing, nothing to restore. Only an element that left the page is replaced.
      const element = event.target;
      queueMicrotask(() => {
        if (held?.element === element && (event.relatedTarget || held.element.isConnected)) held = null;
      });
    };
    // Runs after each re-render of the root's subtree, before the browser paints.
    const observer = new MutationObserver(() => {
      if (!held || held.element.isConnected) return;
      const { key, homes } = held;
      held = null;
      const active = document.activeElement;
      if (active && active !== document.body) return;
      const successor =
        key === undefined ? null : root.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(key)}"]`);
      (successor ?? homes.find((home) => home.isConnected) ?? fallback())?.focus({ preventScroll: true });
    });

    root.addEventListener('focusin', onFocusIn);
    root.addEventListener('focusout', onFocusOut);
    observer.observe(root, { childList: true, subtree: true });
    return () => {
      observer.disconnect();
      root.removeEventListener('focusin', onFocusIn);
      root.removeEventListener('focusout', onFocusOut);
    };
  };
}

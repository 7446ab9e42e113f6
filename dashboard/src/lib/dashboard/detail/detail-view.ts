/**
 * What a detail view loads on first use (DetailHost imports this one module): the dialog, its
 * targets, and the URL it keeps its state in. One dynamic import makes one chunk, which imports
 * what the dashboard has already loaded from the dashboard's own chunks.
 */
export { default as DetailDialog } from './DetailDialog.svelte';
export { detailTarget } from './detail-state.ts';
export { readDetail, writeDetail } from './detail-url.ts';

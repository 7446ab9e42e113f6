/**
 * How a breakdown row's numbers reach a screen reader with their column: the headings are drawn
 * once above the rows, so each row's button is named by its label, then every column's heading and
 * that row's number ("France Visitors 12", not "France 12"). Ids: `{prefix}-h{column}` on the
 * headings, `{prefix}-r{row}` on the row's label, `{prefix}-r{row}m{column}` on its numbers.
 *
 * @example
 * ```svelte
 * <button aria-labelledby={rowLabelledBy(id, 0, 2)}>…</button>
 * ```
 */
export function rowLabelledBy(prefix: string, row: number, columns: number): string {
  const ids = [`${prefix}-r${row}`];
  for (let column = 0; column < columns; column++) ids.push(`${prefix}-h${column}`, `${prefix}-r${row}m${column}`);
  return ids.join(' ');
}

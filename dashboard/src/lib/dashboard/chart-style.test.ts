import { describe, expect, it } from 'vitest';
import { openBucket, segmentDash } from './chart-style.ts';

describe('the main chart’s line', () => {
  it('dashes only the segment into the bucket still in progress', () => {
    // Today is the fourth bucket; the last two are still to come.
    const open = openBucket([3, 5, 4, 1, null, null], true);
    expect(open).toBe(3);
    const dash = segmentDash(open);
    expect([1, 2, 3].map((p1DataIndex) => dash({ p1DataIndex }))).toEqual([undefined, undefined, [6, 4]]);
  });

  it('draws a closed range solid', () => {
    expect(openBucket([3, 5, 4], false)).toBeNull();
    expect(segmentDash(null)({ p1DataIndex: 2 })).toBeUndefined();
    // A range of one bucket has no segment to dash.
    expect(segmentDash(openBucket([7], true))({ p1DataIndex: 0 })).toBeUndefined();
  });
});

/**
 * `node --expose-gc --import tsx bench/archive-memory.ts [rows…]`: the memory one archive merge of a
 * day holds at its peak (`store/archive.ts`: the recorded object read back and decoded, the day's
 * rows from D1, the merged list, its checksum, the Parquet file, then the new object read back and
 * decoded to verify it), with realistic events (`rows.ts`) whose strings are fresh allocations, as
 * D1's results are. Prints MB above the baseline (heap + array buffers) at each step, before and
 * after a forced collection, and the peaks;
 * a Worker has 128 MB, and `ARCHIVE_MAX_ROWS` is chosen to leave room for the runtime and the rest
 * of the cron.
 */
import { byId, checksumOf, decodeParquet, encodeParquet, ID_INDEX } from '../worker/src/store/archive-format.ts';
import { random } from './events.ts';
import { dayRows, type Row } from './rows.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1);
const used = () => {
  const memory = process.memoryUsage();
  return memory.heapUsed + memory.arrayBuffers;
};

async function measure(total: number): Promise<void> {
  // What was archived before (all but 10 events), and the late events.
  const all = JSON.parse(JSON.stringify(dayRows('p', Date.UTC(2031, 0, 1), total, random(7), { next: 0 }))) as Row[];
  const oldFile = encodeParquet(byId(all.slice(0, total - 10)));
  const freshD1 = JSON.stringify(all.slice(total - 10));
  all.length = 0;
  gc?.();
  const base = used();
  let peak = 0;
  let livePeak = 0;
  // Before a collection (what V8 holds, garbage included) and after (what the step keeps alive).
  const step = (name: string) => {
    const now = used() - base;
    gc?.();
    const live = used() - base;
    peak = Math.max(peak, now);
    livePeak = Math.max(livePeak, live);
    console.log(`  ${name.padEnd(34)} ${mb(now).padStart(7)} MB, ${mb(live).padStart(7)} MB live`);
  };
  const object = oldFile.slice(0); // `bucket.get(key).arrayBuffer()`
  const decoded = await decodeParquet(object);
  step('old object decoded');
  const kept = byId(decoded);
  step('sorted by id');
  const fresh = JSON.parse(freshD1) as Row[];
  const known = new Set(kept.map((row) => row[ID_INDEX]));
  const rows = byId([...kept, ...fresh]);
  step('merged');
  const checksum = checksumOf(rows);
  const file = encodeParquet(rows);
  step(`encoded (${mb(file.byteLength)} MB file)`);
  // commitDayArchive reads the new object back while the merge's arrays may not be collected yet.
  const back = byId(await decodeParquet(file.slice(0)));
  step('read back and sorted');
  if (checksumOf(back) !== checksum || known.size !== kept.length) throw new Error('checksum');
  console.log(`${total} events: peak ${mb(peak)} MB above the baseline, ${mb(livePeak)} MB live`);
}

for (const total of process.argv.slice(2).map(Number).filter(Boolean).length
  ? process.argv.slice(2).map(Number)
  : [10_000, 20_000, 30_000, 50_000]) {
  await measure(total);
  gc();
}

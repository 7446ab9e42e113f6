/**
 * The `StoreHealth` Durable Object: the D1 faults its writers reported (`faults.ts`), for
 * `GET /api/health`. Apart from `faults.ts` because it imports `cloudflare:workers`, which the
 * bench's Node run of the cron cannot load.
 */
import { DurableObject } from 'cloudflare:workers';
import { isFresh, type StoreFault, type StoreName } from './faults.ts';

export class StoreHealth extends DurableObject<Env> {
  /** Record a fault, unless a newer report of the same store is already there. */
  async report(fault: StoreFault): Promise<void> {
    const known = await this.ctx.storage.get<StoreFault>(fault.store);
    if (!known || known.at <= fault.at) await this.ctx.storage.put(fault.store, fault);
  }

  /** A writer succeeded at `at`: a fault reported before that is over. */
  async recovered(store: StoreName, at: number): Promise<void> {
    const known = await this.ctx.storage.get<StoreFault>(store);
    if (known && known.at <= at) await this.ctx.storage.delete(store);
  }

  /** The faults reported within `FAULT_FRESH_MS` of `now`. */
  async faults(now: number): Promise<StoreFault[]> {
    const all = await this.ctx.storage.list<StoreFault>();
    return [...all.values()].filter((fault) => isFresh(fault, now));
  }
}

/**
 * The npm package as a consumer installs it: `scripts/build.mjs --outdir` builds `dist/` into a
 * temporary `node_modules/@tally/sdk` beside this package's `package.json`, then a plain Node
 * process imports every export through the exports map, and `tsc` type-checks a consumer against
 * the declarations. Nothing else in CI runs the package build.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const SDK = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(SDK, '../node_modules/.bin');

let consumer: string;
let installed: string;

beforeAll(() => {
  consumer = mkdtempSync(path.join(os.tmpdir(), 'tally-sdk-package-'));
  installed = path.join(consumer, 'node_modules/@tally/sdk');
  mkdirSync(installed, { recursive: true });
  copyFileSync(path.join(SDK, 'package.json'), path.join(installed, 'package.json'));
  execFileSync(process.execPath, [path.join(SDK, 'scripts/build.mjs'), '--outdir', path.join(installed, 'dist')], {
    stdio: 'pipe',
    timeout: 60_000,
  });
}, 90_000);

afterAll(() => {
  if (consumer) rmSync(consumer, { recursive: true, force: true });
});

/** Run an ES module in a plain Node process from the consumer's directory; its stdout. */
function runModule(source: string): string {
  const file = path.join(consumer, `check-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, source);
  return execFileSync(process.execPath, [file], { cwd: consumer, encoding: 'utf8', timeout: 20_000 });
}

describe('the built package', () => {
  it('imports under Node without touching browser globals, and does nothing on the server', () => {
    const output = runModule(`
      // Any read of a browser global while the module loads throws.
      for (const name of ['window', 'document', 'location', 'navigator', 'localStorage']) {
        Object.defineProperty(globalThis, name, { configurable: true, get() { throw new Error('read ' + name); } });
      }
      const sdk = await import('@tally/sdk');
      for (const name of ['window', 'document', 'location', 'navigator', 'localStorage']) delete globalThis[name];
      sdk.init({ site: 'demo', api: 'https://tally.example.com' });
      sdk.track('signup');
      sdk.pageview();
      sdk.optOut();
      sdk.flush();
      console.log(JSON.stringify(Object.keys(sdk).sort()));
    `);
    expect(JSON.parse(output)).toEqual(
      expect.arrayContaining(['init', 'track', 'pageview', 'optOut', 'optIn', 'flush']),
    );
  });

  it('exports the server client and the wire protocol as JavaScript', () => {
    const output = runModule(`
      const server = await import('@tally/sdk/server');
      const protocol = await import('@tally/sdk/protocol');
      console.log(JSON.stringify({ client: typeof server.createClient, path: protocol.EVENT_PATH }));
    `);
    expect(JSON.parse(output)).toEqual({ client: 'function', path: '/api/event' });
  });

  it('ships declarations for every export, which type-check in a strict consumer', () => {
    const declarations = (name: string) => readFileSync(path.join(installed, 'dist', `${name}.d.ts`), 'utf8');
    for (const name of ['init', 'track', 'pageview', 'optOut']) {
      expect(declarations('index')).toMatch(new RegExp(`export declare function ${name}\\(`));
    }
    expect(declarations('server')).toMatch(/export declare function createClient\(/);
    expect(declarations('protocol')).toMatch(/export declare const EVENT_PATH/);

    writeFileSync(
      path.join(consumer, 'consumer.ts'),
      [
        "import { init, optOut, pageview, track } from '@tally/sdk';",
        "import { createClient } from '@tally/sdk/server';",
        "import { EVENT_PATH, type WireEvent } from '@tally/sdk/protocol';",
        "init({ site: 'demo' });",
        "track('signup', { props: { plan: 'pro' }, revenue: { amount: 9, currency: 'EUR' } });",
        'pageview();',
        'optOut();',
        "const client = createClient({ apiKey: 'key', endpoint: 'https://tally.example.com' });",
        "const event: WireEvent = { s: 'demo', n: 'signup', u: EVENT_PATH };",
        'export { client, event };',
      ].join('\n'),
    );
    // Node16 resolution reads the exports map as Node does; a wrong path in it fails here.
    writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(
      path.join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          module: 'node16',
          target: 'es2022',
          lib: ['es2022', 'dom'],
          types: [],
        },
        files: ['consumer.ts'],
      }),
    );
    execFileSync(path.join(BIN, 'tsc'), ['-p', consumer], { cwd: consumer, encoding: 'utf8', timeout: 60_000 });
  }, 70_000);
});

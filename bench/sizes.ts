/**
 * Phase 5, sizes: what a visitor's browser downloads. The tracker as built (`sdk/dist/t.js`,
 * `npm run build -w sdk`) and the dashboard route's initial JavaScript as SvelteKit built it (the
 * client entry plus the layout and page nodes of `/projects/[id]` with every chunk they import),
 * each gzipped at level 9. They are built first when missing (`buildMissing`); a build that
 * fails leaves its figure n/a, never guessed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Figure } from './report.ts';
import { ROOT } from './stack.ts';

const GROUP = 'Sizes';
const TRACKER = path.join(ROOT, 'sdk', 'dist', 't.js');
const KIT = path.join(ROOT, 'dashboard', '.svelte-kit', 'output');
/** The dashboard's main view: one project's numbers. */
const DASHBOARD_ROUTE = '/projects/[id]';

function gzipBytes(buffer: Buffer): number {
  return gzipSync(buffer, { level: 9 }).length;
}

/** The JSON array literal after `key` in generated code (SvelteKit's manifest and nodes). */
function arrayAfter(source: string, pattern: RegExp): string[] | null {
  const match = pattern.exec(source);
  return match?.[1] ? (JSON.parse(`[${match[1]}]`) as string[]) : null;
}

/**
 * The client files the dashboard route loads up front: SvelteKit's `client.imports` (start and
 * app entries and their chunks) plus the `imports` of each node (layouts and leaf) of the route.
 * Read from the server build's manifest without running it.
 */
export function dashboardInitialFiles(): string[] | null {
  const manifestFile = path.join(KIT, 'server', 'manifest.js');
  if (!existsSync(manifestFile)) return null;
  const manifest = readFileSync(manifestFile, 'utf8');
  const entry = arrayAfter(manifest, /client:\s*\{[^}]*?imports:\s*\[([^\]]*)\]/);
  const routeAt = manifest.indexOf(`id: "${DASHBOARD_ROUTE}"`);
  const page =
    routeAt === -1 ? null : /page:\s*\{\s*layouts:\s*\[([^\]]*)\][^}]*?leaf:\s*(\d+)/.exec(manifest.slice(routeAt));
  if (!entry || !page) return null;
  const nodes = [
    ...(page[1] ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter(Boolean),
    page[2] as string,
  ];
  const files = new Set(entry);
  for (const node of nodes) {
    const source = readFileSync(path.join(KIT, 'server', 'nodes', `${node}.js`), 'utf8');
    for (const file of arrayAfter(source, /export const imports = \[([^\]]*)\]/) ?? []) files.add(file);
  }
  return [...files].filter((file) => file.endsWith('.js'));
}

export function benchSizes(): Figure[] {
  const figures: Figure[] = [];
  if (existsSync(TRACKER)) {
    const source = readFileSync(TRACKER);
    figures.push({
      id: 'sizes.tracker',
      group: GROUP,
      label: 'tracker t.js, gzip -9',
      value: gzipBytes(source),
      unit: 'B',
      reference: { label: 'minified', value: source.length, unit: 'B' },
      target: { text: '≤ 1,024 B', pass: gzipBytes(source) <= 1_024 },
    });
  } else {
    figures.push({
      id: 'sizes.tracker',
      group: GROUP,
      label: 'tracker t.js, gzip -9',
      value: null,
      unit: 'B',
      note: 'n/a (sdk/dist/t.js not built: npm run build -w sdk)',
      target: { text: '≤ 1,024 B', pass: null },
    });
  }

  const files = dashboardInitialFiles();
  if (files) {
    const buffers = files.map((file) => readFileSync(path.join(KIT, 'client', file)));
    const gz = buffers.reduce((sum, buffer) => sum + gzipBytes(buffer), 0) / 1024;
    const raw = buffers.reduce((sum, buffer) => sum + buffer.length, 0) / 1024;
    figures.push({
      id: 'sizes.dashboard',
      group: GROUP,
      label: `dashboard ${DASHBOARD_ROUTE} initial JS, gzip -9 (${files.length} files)`,
      value: gz,
      unit: 'KB',
      reference: { label: 'minified', value: raw, unit: 'KB' },
      target: { text: '≤ 120 KB', pass: gz <= 120 },
    });
  } else {
    figures.push({
      id: 'sizes.dashboard',
      group: GROUP,
      label: 'dashboard initial JS, gzip -9',
      value: null,
      unit: 'KB',
      note: 'n/a (dashboard not built: npm run build -w dashboard)',
      target: { text: '≤ 120 KB', pass: null },
    });
  }
  return figures;
}

/** Build the tracker and the dashboard if their outputs are missing (a fresh clone has neither). */
export async function buildMissing(): Promise<void> {
  const npm = (workspace: string) => {
    try {
      execFileSync('npm', ['run', 'build', '--workspace', workspace], { cwd: ROOT, stdio: 'ignore' });
    } catch (error) {
      console.error(`bench: npm run build -w ${workspace} failed: ${error instanceof Error ? error.message : error}`);
    }
  };
  if (!existsSync(TRACKER)) npm('sdk');
  if (!existsSync(path.join(KIT, 'server', 'manifest.js'))) npm('dashboard');
}

/**
 * Fails when `worker/src` has an import cycle, between files or between feature folders (`query/`
 * importing `rollup/` while `rollup/` imports `query/`). Reads relative imports (`import … from
 * './x.ts'`, `export … from`), type-only ones included: a cycle of types is still a knot to untie.
 * Written here rather than taken from madge or dpdm: it needs thirty lines and no dependency.
 *
 *   node scripts/check-cycles.ts
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../worker/src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : name.endsWith('.ts') ? [full] : [];
  });
}

const IMPORT = /(?:import|export)\s[^'";]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g;
const graph = new Map<string, string[]>();
for (const file of files(ROOT)) {
  const text = readFileSync(file, 'utf8');
  graph.set(
    file,
    [...text.matchAll(IMPORT)].map((match) => path.resolve(path.dirname(file), match[1] as string)),
  );
}

/** Every cycle of a graph, each once, by depth-first search. */
function cycles(edges: Map<string, string[]>): string[][] {
  const found = new Map<string, string[]>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = stack.slice(stack.indexOf(next));
        found.set([...cycle].sort().join(' '), cycle);
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  return [...found.values()];
}

const folderOf = (file: string) => path.relative(ROOT, file).split(path.sep)[0] as string;
const folders = new Map<string, string[]>();
for (const [file, imports] of graph) {
  const from = folderOf(file);
  const targets = new Set(folders.get(from) ?? []);
  for (const target of imports) if (folderOf(target) !== from) targets.add(folderOf(target));
  folders.set(from, [...targets]);
}

const name = (file: string) => path.relative(ROOT, file);
const problems = [
  ...cycles(graph).map((cycle) => `files: ${[...cycle, cycle[0] as string].map(name).join(' → ')}`),
  ...cycles(folders).map((cycle) => `folders: ${[...cycle, cycle[0] as string].join('/ → ')}/`),
];
if (problems.length) {
  console.error(`Import cycles in worker/src:\n${problems.map((line) => `  ${line}`).join('\n')}`);
  process.exit(1);
}
console.log(`No import cycles in worker/src (${graph.size} files, ${folders.size} folders).`);

// TypeScript the page's script runs too: src/web/clock-text.ts (with src/format.ts), bundled for the
// browser once, on first demand, by esbuild (tsx already runs every file of vpnwatch through it).
// One formatter for chat, page and terminal stays one: the browser gets the same code, not a copy.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** URL path under /static → the module it is bundled from. */
const MODULES: Record<string, string> = {
  'clock-text.js': path.join(HERE, 'clock-text.ts'),
};

const bundles = new Map<string, Promise<Buffer>>();

async function bundle(entry: string): Promise<Buffer> {
  const out = await build({
    entryPoints: [entry], bundle: true, write: false, format: 'esm', platform: 'browser', target: 'es2020',
    minify: false, legalComments: 'none', logLevel: 'silent',
  });
  return Buffer.from(out.outputFiles[0]!.contents);
}

/** The bundled module served at /static/`name`, or undefined when there is none by that name. */
export function browserModule(name: string): Promise<Buffer> | undefined {
  const entry = MODULES[name];
  if (!entry) return undefined;
  let built = bundles.get(name);
  if (!built) {
    built = bundle(entry);
    bundles.set(name, built);
    built.catch(() => bundles.delete(name));
  }
  return built;
}

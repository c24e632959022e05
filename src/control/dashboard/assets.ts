/**
 * The dashboard's page: plain HTML, JavaScript and CSS shipped in the
 * package's dashboard/ folder (no build step, nothing fetched from the
 * internet), read once and served from memory, so no request can name a file.
 */
import { readFileSync } from 'node:fs';

export interface Asset {
  body: string;
  type: string;
}

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

let cache: Map<string, Asset> | null = null;

/** The page's files by name; the folder sits at the package root, three levels above this module in src/ and dist/ alike. */
export function dashboardAssets(): Map<string, Asset> {
  if (cache) return cache;
  const dir = new URL('../../../dashboard/', import.meta.url);
  cache = new Map(Object.entries(FILES).map(([name, type]) => [name, { body: readFileSync(new URL(name, dir), 'utf8'), type }]));
  return cache;
}

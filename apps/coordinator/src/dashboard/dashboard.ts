import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

const ASSETS: Record<string, { file: string; type: string }> = {
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};
const PAGES = [/^\/$/, /^\/runs\/[A-Za-z0-9._-]+$/, /^\/queues$/];

// Sources live next to this file; a tsc build (dist/dashboard/) reads them from src/ (tsc copies no assets).
const DIRS = [new URL('./assets/', import.meta.url), new URL('../../src/dashboard/assets/', import.meta.url)];

async function load(file: string): Promise<Buffer> {
  let last: unknown;
  for (const dir of DIRS) {
    try {
      return await readFile(new URL(file, dir));
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/**
 * The dashboard: static HTML, CSS and vanilla JS (no build step) that read the JSON API and the
 * SSE event stream. Pages hold no data, so they are served without the token; the API they call
 * is token-protected (a login form sets an HttpOnly cookie).
 */
export function createDashboard(): { serve(path: string, res: ServerResponse): Promise<boolean> } {
  const cache = new Map<string, Buffer>();
  const get = async (file: string) => {
    let body = cache.get(file);
    if (!body) {
      body = await load(file);
      cache.set(file, body);
    }
    return body;
  };
  return {
    async serve(path, res) {
      const asset = ASSETS[path];
      const isPage = PAGES.some((p) => p.test(path));
      if (!asset && !isPage) return false;
      const body = await get(asset ? asset.file : 'index.html');
      res.writeHead(200, {
        'Content-Type': asset ? asset.type : 'text/html; charset=utf-8',
        'Cache-Control': 'no-cache',
        'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
        'X-Content-Type-Options': 'nosniff',
      });
      res.end(body);
      return true;
    },
  };
}

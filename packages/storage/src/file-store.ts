import { randomBytes } from 'node:crypto';
import {
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '@lorkd/contracts';
import { StorageError } from './errors.js';
import { type ConditionalResult, checkKey, type ObjectInfo, type ObjectStore } from './object-store.js';

const TMP_MARK = '.lorkd-tmp-';
const LOCK_SUFFIX = '.lorkd-lock';

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrno(error, 'EPERM');
  }
}

/**
 * An ObjectStore on a local (or shared POSIX) directory with S3's atomicity: each put writes a temp
 * file in the target directory, fsyncs it, renames it over the key and fsyncs the directory.
 * Conditional writes are real: create-if-absent uses link(2) (fails if the name exists), and
 * replace-if-match holds a per-key lock file (O_EXCL) whose owner, if it died, is detected by pid
 * (same host) or by age (`lockStaleMs`) so debris never blocks a later writer.
 */
export class FileObjectStore implements ObjectStore {
  readonly url: string;

  private constructor(
    readonly root: string,
    private readonly logger: Logger,
    private readonly lockStaleMs: number,
  ) {
    this.url = pathToFileURL(root).href.replace(/\/$/, '');
  }

  static async create(root: string, options: { logger: Logger; lockStaleMs?: number }): Promise<FileObjectStore> {
    await mkdir(root, { recursive: true });
    return new FileObjectStore(root, options.logger, options.lockStaleMs ?? 30_000);
  }

  private path(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  private etagOf(s: { ino: bigint; mtimeNs: bigint; size: bigint }): string {
    return `${s.ino.toString(16)}-${s.mtimeNs.toString(16)}-${s.size.toString(16)}`;
  }

  /** Writes a durable temp file next to `path` and returns its name. */
  private async writeTemp(path: string, body: Uint8Array): Promise<string> {
    const dir = dirname(path);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `${TMP_MARK}${randomBytes(6).toString('hex')}`);
    let handle: FileHandle;
    try {
      handle = await open(tmp, 'wx', 0o644);
    } catch (error) {
      // A concurrent delete may have pruned the directory just created: make it again once.
      if (!isErrno(error, 'ENOENT')) throw new StorageError(`cannot write ${path}`, { cause: error });
      await mkdir(dir, { recursive: true });
      handle = await open(tmp, 'wx', 0o644);
    }
    try {
      let offset = 0;
      while (offset < body.length) {
        const { bytesWritten } = await handle.write(body, offset, Math.min(body.length - offset, 8 << 20));
        offset += bytesWritten;
      }
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(tmp, { force: true });
      throw new StorageError(`cannot write ${path}: ${(error as Error).message}`, { cause: error });
    }
    await handle.close();
    return tmp;
  }

  private async syncDir(dir: string): Promise<void> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(dir, 'r');
      await handle.sync();
    } catch {
      // Some file systems cannot fsync a directory; the rename is still atomic.
    } finally {
      await handle?.close();
    }
  }

  private async commit(tmp: string, path: string): Promise<string> {
    await rename(tmp, path);
    await this.syncDir(dirname(path));
    return this.etagOf(await stat(path, { bigint: true }));
  }

  async put(key: string, body: Uint8Array): Promise<{ etag: string }> {
    const path = this.path(key);
    const tmp = await this.writeTemp(path, body);
    return { etag: await this.commit(tmp, path) };
  }

  async putIfAbsent(key: string, body: Uint8Array): Promise<ConditionalResult> {
    const path = this.path(key);
    const tmp = await this.writeTemp(path, body);
    try {
      await link(tmp, path);
    } catch (error) {
      if (isErrno(error, 'EEXIST')) return { ok: false };
      throw new StorageError(`cannot create ${path}: ${(error as Error).message}`, { cause: error });
    } finally {
      await rm(tmp, { force: true });
    }
    await this.syncDir(dirname(path));
    return { ok: true, etag: this.etagOf(await stat(path, { bigint: true })) };
  }

  async putIfMatch(key: string, body: Uint8Array, etag: string): Promise<ConditionalResult> {
    const path = this.path(key);
    const tmp = await this.writeTemp(path, body);
    const release = await this.lock(path);
    try {
      const current = await stat(path, { bigint: true }).catch((error: unknown) => {
        if (isErrno(error, 'ENOENT')) return undefined;
        throw error;
      });
      if (!current || this.etagOf(current) !== etag) {
        await rm(tmp, { force: true });
        return { ok: false };
      }
      return { ok: true, etag: await this.commit(tmp, path) };
    } finally {
      await release();
    }
  }

  /** Takes the per-key lock, breaking it when its owner is dead or it is older than lockStaleMs. */
  private async lock(path: string): Promise<() => Promise<void>> {
    const lockPath = `${path}${LOCK_SUFFIX}`;
    const owner = JSON.stringify({ host: hostname(), pid: process.pid, token: randomBytes(8).toString('hex') });
    for (let attempt = 0; ; attempt += 1) {
      try {
        await writeFile(lockPath, owner, { flag: 'wx' });
        return async () => {
          const now = await readFile(lockPath, 'utf8').catch(() => '');
          if (now === owner) await unlink(lockPath).catch(() => {});
        };
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) throw new StorageError(`cannot lock ${path}`, { cause: error });
      }
      const stale = await this.staleLock(lockPath);
      if (stale !== undefined) {
        // Move the stale lock aside atomically so that only one breaker wins; if what was moved is
        // not the lock judged stale (another breaker re-took it meanwhile), put it back.
        const aside = `${lockPath}${TMP_MARK}${randomBytes(4).toString('hex')}`;
        const moved = await rename(lockPath, aside).then(
          () => true,
          () => false,
        );
        if (moved) {
          const text = await readFile(aside, 'utf8').catch(() => '');
          if (text !== stale) await link(aside, lockPath).catch(() => {});
          else this.logger.warn('broke a stale lock', { lock: lockPath });
          await unlink(aside).catch(() => {});
        }
        continue;
      }
      if (attempt > 2000) throw new StorageError(`timed out waiting for lock ${lockPath}`, { fields: { lockPath } });
      await new Promise((r) => setTimeout(r, 2 + Math.random() * 8));
    }
  }

  /** The lock's content when its owner is dead (same host) or it is older than lockStaleMs. */
  private async staleLock(lockPath: string): Promise<string | undefined> {
    let text: string;
    let ageMs: number;
    try {
      [text, ageMs] = await Promise.all([
        readFile(lockPath, 'utf8'),
        stat(lockPath).then((s) => Date.now() - s.mtimeMs),
      ]);
    } catch {
      return undefined; // released meanwhile
    }
    if (ageMs > this.lockStaleMs) return text;
    try {
      const parsed = JSON.parse(text) as { host?: string; pid?: number };
      return parsed.host === hostname() && typeof parsed.pid === 'number' && !pidAlive(parsed.pid) ? text : undefined;
    } catch {
      // Half-written by a writer that died inside writeFile: stale once it is not fresh.
      return ageMs > 1000 ? text : undefined;
    }
  }

  async conditionalWrites(): Promise<boolean> {
    return true;
  }

  async get(key: string): Promise<{ body: Uint8Array; etag: string } | undefined> {
    const path = this.path(key);
    try {
      const handle = await open(path, 'r');
      try {
        const info = await handle.stat({ bigint: true });
        const body = await handle.readFile();
        return { body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), etag: this.etagOf(info) };
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return undefined;
      throw new StorageError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
  }

  async getInto(key: string, target: Uint8Array): Promise<boolean> {
    const path = this.path(key);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return false;
      throw new StorageError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
    try {
      const { size } = await handle.stat();
      if (size !== target.length)
        throw new StorageError(`${path} has ${size} bytes, expected ${target.length}`, {
          fields: { key, size, expected: target.length },
        });
      let offset = 0;
      while (offset < size) {
        const { bytesRead } = await handle.read(target, offset, Math.min(size - offset, 8 << 20), offset);
        if (bytesRead === 0) throw new StorageError(`${path} shrank while reading`, { fields: { key } });
        offset += bytesRead;
      }
      return true;
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.path(key), { bigint: true });
      if (!info.isFile()) return undefined;
      return { key, size: Number(info.size), etag: this.etagOf(info), lastModified: new Date(Number(info.mtimeMs)) };
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined;
      throw error;
    }
  }

  private async walk(dir: string, rel: string, out: ObjectInfo[], debris?: string[]): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return;
      throw error;
    }
    for (const entry of entries) {
      const full = join(dir, entry.name);
      const key = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.name.includes(TMP_MARK) || entry.name.endsWith(LOCK_SUFFIX)) {
        debris?.push(full);
        continue;
      }
      if (entry.isDirectory()) await this.walk(full, key, out, debris);
      else if (entry.isFile()) {
        const info = await stat(full, { bigint: true }).catch(() => undefined);
        if (info)
          out.push({
            key,
            size: Number(info.size),
            etag: this.etagOf(info),
            lastModified: new Date(Number(info.mtimeMs)),
          });
      }
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    // Walk from the deepest directory the prefix names, then filter by the full prefix.
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut);
    const out: ObjectInfo[] = [];
    await this.walk(base === '' ? this.root : join(this.root, ...base.split('/')), base, out);
    return out.filter((o) => o.key.startsWith(prefix)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async listDirs(prefix: string): Promise<string[]> {
    const dir = prefix === '' ? this.root : join(this.root, ...prefix.replace(/\/$/, '').split('/'));
    try {
      const entries = await readdir(dir, { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory() && !e.name.includes(TMP_MARK))
        .map((e) => e.name)
        .sort();
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return [];
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.path(key);
    await rm(path, { force: true });
    // Prune directories emptied by the delete, up to the root.
    let dir = dirname(path);
    while (dir.startsWith(this.root + sep) && dir !== this.root) {
      try {
        await rmdir(dir);
      } catch {
        break;
      }
      dir = dirname(dir);
    }
  }

  async sweep(prefix: string, olderThanMs: number): Promise<number> {
    const debris: string[] = [];
    const base = prefix.replace(/\/+$/, '');
    await this.walk(base === '' ? this.root : join(this.root, ...checkKey(base).split('/')), base, [], debris);
    let removed = 0;
    for (const path of debris) {
      const info = await stat(path).catch(() => undefined);
      if (!info || Date.now() - info.mtimeMs < olderThanMs) continue;
      if (path.endsWith(LOCK_SUFFIX) && (await this.staleLock(path)) === undefined) continue;
      await rm(path, { force: true, recursive: true });
      removed += 1;
    }
    return removed;
  }

  async close(): Promise<void> {}
}

import type { RunService } from '@lorkd/contracts';
import { createObjectStore, type ObjectStoreOptions } from '@lorkd/storage';
import type { ReportSource } from './http/index.js';

/** Reads a run's report files (`report/report.json`, `report/index.html`) from its storage. */
export function storageReports(runs: RunService, storage: ObjectStoreOptions): ReportSource {
  return {
    async read(runId: string, file: string): Promise<Uint8Array | undefined> {
      if (!/^[A-Za-z0-9_.-]+$/.test(file) || file.startsWith('.')) return undefined;
      const record = await runs.get(runId);
      if (!record) return undefined;
      const store = await createObjectStore(record.storageUrl, storage);
      try {
        return (await store.get(`report/${file}`))?.body;
      } finally {
        await store.close();
      }
    },
  };
}

import { Collective, type GenerationFence, type RedisConnections, RendezvousMember } from '@lorkd/cluster';
import type { Logger } from '@lorkd/contracts';
import type { GenerationPort, GenerationSession } from './ports.js';

/** GenerationPort over @lorkd/cluster: the fence, a rendezvous member (heartbeats) and a Collective. */
export function clusterGenerations(input: {
  connections: RedisConnections;
  fence: GenerationFence;
  prefix: string;
  workerId: string;
  logger: Logger;
}): GenerationPort {
  const { connections, fence, prefix, workerId, logger } = input;
  return {
    current: (jobRunId) => fence.current(jobRunId),
    async join(jobRunId, generation, rank, worldSize, options): Promise<GenerationSession> {
      const member = await RendezvousMember.join({
        connections,
        prefix,
        runId: jobRunId,
        generation,
        rank,
        worldSize,
        memberId: workerId,
        ttlMs: options.heartbeatTtlMs,
        heartbeatMs: Math.max(100, Math.floor(options.heartbeatTtlMs / 4)),
        logger,
      });
      let collective: Collective | undefined;
      try {
        await untilAborted(member.waitForAll(options.timeoutMs), options.signal);
        collective = await Collective.create({
          connections,
          prefix,
          runId: jobRunId,
          generation,
          rank,
          timeoutMs: options.collectiveTimeoutMs,
          transport: options.fp16 ? 'f16' : 'f32',
          logger,
        });
      } catch (err) {
        await member.leave().catch(() => {});
        throw err;
      }
      const coll = collective;
      return {
        generation,
        allReduce: (group, ranks, step, data) => coll.allReduce(group, ranks, step, data, { signal: member.signal }),
        async leave() {
          await coll.close().catch(() => {});
          await member.leave();
        },
      };
    },
  };
}

/** `work`, or a rejection as soon as `signal` aborts (a stopping worker does not wait for its peers). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

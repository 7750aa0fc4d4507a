/**
 * Calls `onGone` once the process that started this one (pid `parent`) has ended, however it ended
 * (SIGKILL included): the kernel then re-parents this process to init or a subreaper, so its parent
 * pid changes. Comparing parent pids, rather than probing `parent` with a signal, cannot be fooled by a
 * new process that reuses the pid. Polls every `intervalMs`; the timer never keeps the process alive.
 */
export function watchParent(
  parent: number,
  onGone: () => void,
  options: { intervalMs?: number; ppid?: () => number } = {},
): () => void {
  const ppid = options.ppid ?? (() => process.ppid);
  const timer = setInterval(() => {
    if (ppid() === parent) return;
    clearInterval(timer);
    onGone();
  }, options.intervalMs ?? 250);
  timer.unref();
  return () => clearInterval(timer);
}

/** The supervisor pid a parent passed in LORKD_SUPERVISOR_PID, if it is a plausible one. */
export function supervisorPid(env: Readonly<Record<string, string | undefined>>): number | undefined {
  const pid = Number(env.LORKD_SUPERVISOR_PID);
  return env.LORKD_SUPERVISOR_PID && Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

// Libraries must log through an injected Logger, never console: any console call in a test fails it.
for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
  console[method] = (...args: unknown[]) => {
    throw new Error(
      `console.${method} called during a test (use a Logger): ${args.map(String).join(' ').slice(0, 300)}`,
    );
  };
}

/** `--key=value` / `--flag` command-line arguments of the benchmark scripts, as a record (a bare flag is 'true'). */
export function flagArgs(argv: readonly string[] = process.argv.slice(2)): Record<string, string> {
  return Object.fromEntries(
    argv.map((a) => {
      const [k, v] = a.replace(/^--/, '').split('=');
      return [k, v ?? 'true'];
    }),
  ) as Record<string, string>;
}

export { ApiClient, type ApiClientOptions, sseFrames } from './api-client.js';
export { type CommandDef, helpText, type OptionDef, type ParsedArgs, parseArgs } from './args.js';
export { COMMANDS, mainHelp, runCli } from './cli.js';
export { demoSpec } from './commands/demo.js';
export { CliError, EXIT, UsageError } from './errors.js';
export { followRun } from './follow.js';
export type { CliIo } from './io.js';
export { type ReportRow, renderReportTable, reportRows } from './report-table.js';
export { eventLine, RunView } from './run-view.js';

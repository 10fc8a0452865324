import type { Command } from 'commander';
import { Option } from 'commander';
import { failsAt, renderScanConsole, renderScanJson, renderScanSarif, scanPaths, SEVERITIES, type Severity } from '../../scan/index.js';
import { CheckError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { checkOutputs } from '../../util/paths.js';
import type { Io } from '../io.js';

/** `robust scan <path...>`: static scanning of model files (exit 0 clean, 1 findings at or above --fail-on, 2 error). */
export function registerScanCommand(program: Command, io: Io): void {
  program
    .command('scan')
    .description('statically scan model files and folders for code-execution and tampering (exit 0 clean, 1 findings at or above --fail-on, 2 error)')
    .argument('<paths...>', 'model files or folders (scanned recursively; formats are recognised by content)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'sarif']).default('table'))
    .addOption(new Option('--fail-on <severity>', 'exit 1 when a finding is at or above this severity').choices([...SEVERITIES]).default('high'))
    .option('--out <file>', 'write the report to this file (atomically) instead of stdout')
    .action(async (paths: string[], flags: { format: 'table' | 'json' | 'sarif'; failOn: Severity; out?: string }) => {
      // The report may go inside a scanned folder (`robust scan . --out scan.sarif`), never onto a scanned file.
      if (flags.out !== undefined) await checkOutputs([{ label: '--out', path: flags.out }], paths.map((path) => ({ label: 'a scanned path', path })));
      const report = await scanPaths(paths);
      const text = flags.format === 'json' ? renderScanJson(report) : flags.format === 'sarif' ? renderScanSarif(report) : renderScanConsole(report);
      if (flags.out !== undefined) {
        await writeFileAtomic(flags.out, text.endsWith('\n') ? text : `${text}\n`);
        io.err(`wrote ${flags.out}`);
      } else io.out(text);
      const failing = report.findings.filter((f) => SEVERITIES.indexOf(f.severity) >= SEVERITIES.indexOf(flags.failOn));
      if (failsAt(report, flags.failOn)) throw new CheckError(`${failing.length} finding(s) at or above ${flags.failOn}`);
    });
}

/**
 * The scan `robust test` runs before a suite (unless `--no-scan`): a critical finding in the model stops the
 * suite with exit 1; lesser findings are listed on stderr and the suite goes on.
 */
export async function scanBeforeSuite(modelPath: string, io: Io): Promise<void> {
  const report = await scanPaths([modelPath]);
  if (report.findings.length === 0) return;
  io.err(renderScanConsole(report));
  if (failsAt(report, 'critical')) {
    throw new CheckError(`the model scan found ${report.findings.filter((f) => f.severity === 'critical').length} critical finding(s) in ${modelPath}; the suite did not run (pass --no-scan to run it anyway)`);
  }
}

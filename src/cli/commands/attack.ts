import type { Command } from 'commander';
import type { Io } from '../io.js';

/** `robust attack`: one attack over a dataset (wired once the attack runner lands). */
export function registerAttackCommand(program: Command, _io: Io): void {
  program.command('attack').description('run one attack over a dataset and report clean and robust accuracy');
}

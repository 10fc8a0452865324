/**
 * Where a format scanner is: the file on disk, the zip member path inside it (if any), the nesting depth, and
 * the list findings go to. Scanners report through it instead of throwing, so one bad file never stops a scan.
 */
import { ruleOf, type RuleId } from './rules.js';
import type { Finding, FindingLocation } from './types.js';

/** Archives nested deeper than this are reported, not opened (a zip bomb made of zips stays cheap). */
export const MAX_NESTING = 3;

export class ScanContext {
  constructor(
    readonly file: string,
    readonly findings: Finding[],
    readonly member?: string,
    readonly depth = 0,
  ) {}

  /** Record a finding of `rule` at `where` (inside this context's file and member). */
  add(rule: RuleId, where: Omit<FindingLocation, 'file' | 'member'>, message: string): void {
    const location: FindingLocation = { file: this.file, ...(this.member !== undefined ? { member: this.member } : {}), ...where };
    this.findings.push({ rule, severity: ruleOf(rule).severity, location, message });
  }

  /** The context of a member of an archive inside this one. */
  child(member: string): ScanContext {
    const path = this.member !== undefined ? `${this.member}!/${member}` : member;
    return new ScanContext(this.file, this.findings, path, this.depth + 1);
  }
}

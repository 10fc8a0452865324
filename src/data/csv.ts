/**
 * Tabular data from a CSV file: a header row, one column of integer labels (default `label`), and every other
 * column a float feature, in header order. One example has shape [numFeatures].
 */
import { InputError } from '../errors.js';
import { makeDataset, type DatasetParts } from './dataset.js';
import { readInputFile } from './files.js';
import type { Dataset } from './types.js';

/** One CSV record and the 1-based line of the file it starts on. */
export interface CsvRecord {
  line: number;
  cells: string[];
}

/**
 * Split CSV text into records (RFC 4180: comma-separated, fields may be double-quoted with `""` for a quote,
 * LF or CRLF line ends; a leading BOM is dropped). Blank lines are skipped.
 * @throws InputError on an unterminated quoted field.
 */
export function parseCsv(text: string, name = 'CSV'): CsvRecord[] {
  const records: CsvRecord[] = [];
  let cells: string[] = [];
  let field = '';
  let quoted = false;
  let fieldWasQuoted = false;
  let line = 1;
  let recordLine = 1;
  const start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRecord = (): void => {
    cells.push(field);
    if (cells.length > 1 || cells[0] !== '' || fieldWasQuoted) records.push({ line: recordLine, cells });
    cells = [];
    field = '';
    fieldWasQuoted = false;
  };
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
      fieldWasQuoted = true;
    } else if (c === ',') {
      cells.push(field);
      field = '';
      fieldWasQuoted = false;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else field += c;
  }
  if (quoted) throw new InputError(`${name}: a quoted field opened on line ${recordLine} is never closed; add the closing quote`);
  endRecord();
  return records;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parse a decimal number cell (no hex, no `NaN`, no blanks), or return undefined. */
export function parseNumberCell(cell: string): number | undefined {
  const text = cell.trim();
  return NUMBER.test(text) ? Number(text) : undefined;
}

/** Parse an integer class-id cell (`3`, `3.0`), or return undefined. */
export function parseLabelCell(cell: string): number | undefined {
  const value = parseNumberCell(cell);
  return value !== undefined && Number.isInteger(value) && value >= 0 && value <= 0x7fffffff ? value : undefined;
}

/** Options of a CSV dataset. */
export interface CsvOptions {
  /** Name of the label column; default `label`. */
  labelColumn?: string;
  /**
   * Name of a column holding each example's slice (any text, e.g. a site or an age band). It is not a feature;
   * robust reports robust accuracy per slice (`perSlice`). Default: none.
   */
  groupColumn?: string;
}

/** The arrays of {@link loadCsv}, unchecked and unhashed. */
export async function csvParts(path: string, opts: CsvOptions = {}, source = `csv:${path}`): Promise<DatasetParts> {
  const labelColumn = opts.labelColumn ?? 'label';
  const records = parseCsv((await readInputFile(path, 'CSV file')).toString('utf8'), path);
  const header = records[0];
  if (header === undefined) throw new InputError(`${path} is empty; it needs a header row and at least one data row`);
  const names = header.cells.map((c) => c.trim());
  const labelAt = names.indexOf(labelColumn);
  if (labelAt < 0) {
    throw new InputError(`${path} has no column "${labelColumn}" (columns: ${names.join(', ')}); name the label column, e.g. csv:${path},<column>`);
  }
  const groupAt = opts.groupColumn === undefined ? -1 : names.indexOf(opts.groupColumn);
  if (opts.groupColumn !== undefined && (groupAt < 0 || groupAt === labelAt)) {
    throw new InputError(`${path} has no column "${opts.groupColumn}" besides the labels (columns: ${names.join(', ')}); name the group column, e.g. csv:${path},${labelColumn},<column>`);
  }
  const featureAt = names.map((_, i) => i).filter((i) => i !== labelAt && i !== groupAt);
  if (featureAt.length === 0) throw new InputError(`${path} has no feature columns besides "${labelColumn}"; add at least one`);
  const rows = records.slice(1);
  const x = new Float32Array(rows.length * featureAt.length);
  const y = new Int32Array(rows.length);
  const groups = groupAt < 0 ? undefined : new Array<string>(rows.length);
  rows.forEach((row, r) => {
    if (row.cells.length !== names.length) {
      throw new InputError(`${path} line ${row.line} has ${row.cells.length} cells but the header has ${names.length}; fix the row`);
    }
    const label = parseLabelCell(row.cells[labelAt]!);
    if (label === undefined) {
      throw new InputError(`${path} line ${row.line}, column "${labelColumn}": "${row.cells[labelAt]!}" is not an integer class id >= 0; fix the label`);
    }
    y[r] = label;
    if (groups !== undefined) groups[r] = row.cells[groupAt]!.trim();
    featureAt.forEach((col, f) => {
      const value = parseNumberCell(row.cells[col]!);
      if (value === undefined) {
        throw new InputError(`${path} line ${row.line}, column "${names[col]!}": "${row.cells[col]!}" is not a number; fix the cell or drop the column`);
      }
      x[r * featureAt.length + f] = value;
    });
  });
  return { x, y, shape: [featureAt.length], source, ...(groups !== undefined ? { groups } : {}) };
}

/**
 * Load a tabular CSV: header row, integer labels in `labelColumn` (default `label`), every other column a
 * float feature in header order, shape [numFeatures]. Cells are decimal numbers (`1`, `-2.5`, `1e-3`);
 * anything else, blanks included, is an InputError naming the line and column.
 *
 * @example await loadCsv('iris.csv', { labelColumn: 'species' })
 */
export async function loadCsv(path: string, opts: CsvOptions = {}): Promise<Dataset> {
  return makeDataset(await csvParts(path, opts));
}

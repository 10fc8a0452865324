/**
 * Naming a dataset: one typed {@link DataSource} value that the CLI (`--data`, `--x/--y`) and config files
 * both produce, and one string grammar for it:
 *
 * | string                          | source                                           |
 * |---------------------------------|--------------------------------------------------|
 * | `mnist:train`, `mnist:test`     | the fixed MNIST splits                           |
 * | `npy:<x.npy>,<y.npy>`           | features and labels from NumPy files             |
 * | `images:<dir>[,<labels.csv>]`   | an image folder; labels default `<dir>/labels.csv` |
 * | `csv:<file.csv>[,<column>[,<group>]]` | a tabular CSV; label column default `label`; an optional group (slice) column |
 */
import { isAbsolute, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { ImageChannels } from './images.js';
import type { MnistSplit } from './mnist.js';

/** The fixed MNIST splits. */
export interface MnistSource {
  kind: 'mnist';
  split: MnistSplit;
}

/** Features and labels from two `.npy` files. */
export interface NpySource {
  kind: 'npy';
  x: string;
  y: string;
  /** Scale uint8 features by 1/255 (default true: image models take [0, 1]). Other dtypes are never scaled. */
  scaleUint8?: boolean;
}

/** A folder of images plus a `filename,label` CSV. */
export interface ImagesSource {
  kind: 'images';
  dir: string;
  /** Default `<dir>/labels.csv`. */
  labels?: string;
  /** Default: from the first image (see ImageFolderOptions). */
  channels?: ImageChannels;
}

/** A tabular CSV with a label column. */
export interface CsvSource {
  kind: 'csv';
  path: string;
  /** Default `label`. */
  labelColumn?: string;
  /** A column naming each example's slice (not a feature); default none. */
  groupColumn?: string;
}

/** Where a dataset comes from, in typed form. */
export type DataSource = MnistSource | NpySource | ImagesSource | CsvSource;

/** What {@link loadDataset} accepts: the string form or the typed form. */
export type DataSpec = string | DataSource;

const FORMS = 'mnist:train, mnist:test, npy:<x.npy>,<y.npy>, images:<dir>[,<labels.csv>] or csv:<file.csv>[,<label column>[,<group column>]]';

/**
 * Parse the string form of a data source.
 * @throws UsageError naming the accepted forms.
 * @example parseDataSource('npy:x.npy,y.npy') // { kind: 'npy', x: 'x.npy', y: 'y.npy' }
 */
export function parseDataSource(text: string): DataSource {
  const colon = text.indexOf(':');
  const scheme = colon < 0 ? text : text.slice(0, colon);
  const rest = colon < 0 ? '' : text.slice(colon + 1);
  const parts = rest.split(',').map((p) => p.trim());
  const bad = (why: string): UsageError => new UsageError(`bad data source '${text}': ${why}; use ${FORMS}`);
  switch (scheme) {
    case 'mnist':
      if (rest !== 'train' && rest !== 'test') throw bad('the mnist split is train or test');
      return { kind: 'mnist', split: rest };
    case 'npy':
      if (parts.length !== 2 || parts.some((p) => p === '')) throw bad('npy needs two paths, x then y');
      return { kind: 'npy', x: parts[0]!, y: parts[1]! };
    case 'images':
      if (parts.length > 2 || parts[0] === '' || parts[1] === '') throw bad('images takes a folder and optionally a labels CSV');
      return { kind: 'images', dir: parts[0]!, ...(parts[1] !== undefined ? { labels: parts[1] } : {}) };
    case 'csv':
      if (parts.length > 3 || parts.some((p) => p === '')) throw bad('csv takes a file, optionally the label column, then optionally a group column');
      return { kind: 'csv', path: parts[0]!, ...(parts[1] !== undefined ? { labelColumn: parts[1] } : {}), ...(parts[2] !== undefined ? { groupColumn: parts[2] } : {}) };
    default:
      throw bad(colon < 0 ? 'no source type' : `unknown source type '${scheme}'`);
  }
}

/**
 * The canonical string of a source, the inverse of {@link parseDataSource} for the options the string form
 * can carry (`scaleUint8` and `channels` are typed-form only). Used as `Dataset.source`.
 */
export function formatDataSource(src: DataSource): string {
  switch (src.kind) {
    case 'mnist':
      return `mnist:${src.split}`;
    case 'npy':
      return `npy:${src.x},${src.y}`;
    case 'images':
      return `images:${src.dir}${src.labels !== undefined ? `,${src.labels}` : ''}`;
    case 'csv':
      return `csv:${src.path}${src.labelColumn !== undefined || src.groupColumn !== undefined ? `,${src.labelColumn ?? 'label'}` : ''}${src.groupColumn !== undefined ? `,${src.groupColumn}` : ''}`;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Turn an untrusted value (a config file's `data` entry: a source string, or an object such as
 * `{ kind: 'npy', x: 'x.npy', y: 'y.npy' }`; `{ x, y }` alone means npy) into a checked {@link DataSource}.
 * Relative paths are resolved against `baseDir` when given (a config file's folder).
 * @throws UsageError naming the field that is wrong.
 */
export function parseDataSpec(value: unknown, opts: { baseDir?: string; field?: string } = {}): DataSource {
  const field = opts.field ?? 'data';
  let src: DataSource;
  if (typeof value === 'string') src = parseDataSource(value);
  else if (isRecord(value)) src = parseObject(value, field);
  else throw new UsageError(`${field} must be a source string (${FORMS}) or an object with a kind`);
  return opts.baseDir === undefined ? src : resolvePaths(src, opts.baseDir);
}

function parseObject(v: Record<string, unknown>, field: string): DataSource {
  const kind = v.kind ?? ('x' in v && 'y' in v ? 'npy' : undefined);
  const str = (key: string, required: boolean): string | undefined => {
    const s = v[key];
    if (s === undefined && !required) return undefined;
    if (typeof s !== 'string' || s === '') throw new UsageError(`${field}.${key} must be a non-empty string`);
    return s;
  };
  const allow = (keys: string[]): void => {
    const extra = Object.keys(v).filter((k) => k !== 'kind' && !keys.includes(k));
    if (extra.length > 0) throw new UsageError(`${field} has unknown key ${extra.join(', ')} for kind '${String(kind)}'; allowed: ${keys.join(', ')}`);
  };
  switch (kind) {
    case 'mnist': {
      allow(['split']);
      const split = v.split;
      if (split !== 'train' && split !== 'test') throw new UsageError(`${field}.split must be 'train' or 'test'`);
      return { kind: 'mnist', split };
    }
    case 'npy': {
      allow(['x', 'y', 'scaleUint8']);
      if (v.scaleUint8 !== undefined && typeof v.scaleUint8 !== 'boolean') throw new UsageError(`${field}.scaleUint8 must be true or false`);
      return { kind: 'npy', x: str('x', true)!, y: str('y', true)!, ...(typeof v.scaleUint8 === 'boolean' ? { scaleUint8: v.scaleUint8 } : {}) };
    }
    case 'images': {
      allow(['dir', 'labels', 'channels']);
      const channels = v.channels;
      if (channels !== undefined && channels !== 1 && channels !== 3 && channels !== 4) throw new UsageError(`${field}.channels must be 1, 3 or 4`);
      const labels = str('labels', false);
      return { kind: 'images', dir: str('dir', true)!, ...(labels !== undefined ? { labels } : {}), ...(channels !== undefined ? { channels } : {}) };
    }
    case 'csv': {
      allow(['path', 'labelColumn', 'groupColumn']);
      const labelColumn = str('labelColumn', false);
      const groupColumn = str('groupColumn', false);
      return { kind: 'csv', path: str('path', true)!, ...(labelColumn !== undefined ? { labelColumn } : {}), ...(groupColumn !== undefined ? { groupColumn } : {}) };
    }
    default:
      throw new UsageError(`${field}.kind must be one of mnist, npy, images, csv (got ${JSON.stringify(kind)})`);
  }
}

function resolvePaths(src: DataSource, baseDir: string): DataSource {
  return mapSourcePaths(src, (p) => (isAbsolute(p) ? p : resolve(baseDir, p)));
}

/**
 * `src` with every file path it names (npy's x and y, an image folder and its labels, a CSV) passed through
 * `at`: the one place that knows which fields of a source are paths.
 * @example mapSourcePaths(parseDataSource('npy:x.npy,y.npy'), (p) => `data/${p}`) // { kind: 'npy', x: 'data/x.npy', y: 'data/y.npy' }
 */
export function mapSourcePaths(src: DataSource, at: (path: string) => string): DataSource {
  switch (src.kind) {
    case 'mnist':
      return src;
    case 'npy':
      return { ...src, x: at(src.x), y: at(src.y) };
    case 'images':
      return { ...src, dir: at(src.dir), ...(src.labels !== undefined ? { labels: at(src.labels) } : {}) };
    case 'csv':
      return { ...src, path: at(src.path) };
  }
}

/**
 * The source named by CLI flags: `--data <source>`, or `--x <x.npy> --y <y.npy>` (exactly one of the two
 * ways).
 * @throws UsageError when neither, both, or only one of --x/--y is given.
 */
export function dataSourceFromFlags(flags: { data?: string; x?: string; y?: string }): DataSource {
  const hasXY = flags.x !== undefined || flags.y !== undefined;
  if (flags.data !== undefined && hasXY) throw new UsageError('give either --data or --x/--y, not both');
  if (flags.data !== undefined) return parseDataSource(flags.data);
  if (flags.x !== undefined && flags.y !== undefined) return { kind: 'npy', x: flags.x, y: flags.y };
  if (hasXY) throw new UsageError(`--${flags.x === undefined ? 'x' : 'y'} is missing; --x and --y go together (features and labels .npy)`);
  throw new UsageError(`no data given; use --data (${FORMS}) or --x <x.npy> --y <y.npy>`);
}

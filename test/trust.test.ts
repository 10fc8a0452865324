/**
 * Nothing the user had is lost: atomic writes through symlinks, into devices and FIFOs, to standard output; report
 * sets that a kill -9 during the renames never leaves mixed; stale temporary files removed on the next run;
 * `robust train --out` onto a model needs --force; reports say UNRELIABLE instead of PASS.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { planWrite, recoverFolder, writeFileAtomic, writeFilesAtomic } from '../src/util/atomic.js';
import { checkOutputs } from '../src/util/paths.js';
import { renderConsole, renderHtml, renderJunit, renderMarkdown, renderJson } from '../src/report/index.js';
import { makeSuiteResult } from './fixtures/suite-result.js';
import { runCli } from './helpers/cli.js';
import { tempDirs } from './helpers/tmp.js';
import { linearWeights, writeLinearData, writeLinearGraphModel } from './fixtures/suite-fixtures.js';
import { parseConfig } from '../src/suite/config.js';
import { runSuite } from '../src/suite/run.js';
import { attackWork } from '../src/suite/preflight.js';
import { formatDuration as duration } from '../src/report/format.js';

const dirs = tempDirs('robust-trust-');
afterAll(() => dirs.cleanup());
const ROOT = resolve(import.meta.dirname, '..');
const DIST = existsSync(join(ROOT, 'dist', 'util', 'atomic.js'));

describe('atomic writes keep what a path names', () => {
  it('a symlink stays a link and its target gets the new bytes', async () => {
    const d = dirs.fresh();
    writeFileSync(join(d, 'target.json'), 'old');
    symlinkSync('target.json', join(d, 'link.json'));
    // A chain of two links, the second relative to its own folder.
    mkdirSync(join(d, 'sub'));
    symlinkSync('../link.json', join(d, 'sub', 'link2.json'));
    await writeFileAtomic(join(d, 'sub', 'link2.json'), 'new');
    expect(lstatSync(join(d, 'link.json')).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(d, 'sub', 'link2.json')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(d, 'link.json'))).toBe('target.json');
    expect(readFileSync(join(d, 'target.json'), 'utf8')).toBe('new');
    // A dangling link creates the file it names.
    symlinkSync('fresh.json', join(d, 'dangling.json'));
    await writeFileAtomic(join(d, 'dangling.json'), 'made');
    expect(readFileSync(join(d, 'fresh.json'), 'utf8')).toBe('made');
    expect(lstatSync(join(d, 'dangling.json')).isSymbolicLink()).toBe(true);
  });

  it('a character device is written directly, never replaced', async () => {
    expect(await planWrite('/dev/null')).toEqual({ kind: 'direct', path: '/dev/null' });
    await writeFileAtomic('/dev/null', 'discarded');
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    expect((await planWrite('/dev/stdout')).kind).toBe('direct');
    expect(await planWrite('-')).toEqual({ kind: 'stdout' });
  });

  it.skipIf(spawnSync('mkfifo', ['--version']).status !== 0)('a FIFO is written directly and stays a FIFO', async () => {
    const d = dirs.fresh();
    const fifo = join(d, 'pipe');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const read = new Promise<string>((done) => {
      let text = '';
      createReadStream(fifo, 'utf8').on('data', (c) => (text += c)).on('end', () => done(text));
    });
    await writeFileAtomic(fifo, 'through the pipe');
    expect(await read).toBe('through the pipe');
    expect(statSync(fifo).isFIFO()).toBe(true);
  });

  it('- goes to standard output (robust attack --json -), and the table moves to stderr', async () => {
    const bytes: string[] = [];
    await writeFileAtomic('-', 'hello', { stdout: (b) => void bytes.push(new TextDecoder().decode(b)) });
    expect(bytes).toEqual(['hello']);
    const model = join(ROOT, 'models', 'mnist-cnn', 'model.json');
    const r = await runCli('--backend', 'cpu', '--quiet', '--json', '-', 'attack', '--model', model, '--data', 'mnist:test', '--n', '2', '--attack', 'fgsm', '--eps', '0.1');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { attack: string; n: number };
    expect(doc).toMatchObject({ attack: 'fgsm', n: 2 });
    expect(r.stderr).toMatch(/clean accuracy/);
    expect(existsSync(join(ROOT, '-'))).toBe(false);
  });

  it('stale temporary files of dead runs are removed on the next write; those of live runs are kept', async () => {
    const d = dirs.fresh();
    const uuid = '0f0e0d0c-0b0a-4908-8706-050403020100';
    // Pid 2^22 + 1 is above Linux's pid_max default range for most systems; check it is really free.
    const dead = 4194305;
    const deadTemp = join(d, `.report.json.${dead}.${uuid}.tmp`);
    const liveTemp = join(d, `.report.json.${process.pid}.${uuid}.tmp`);
    writeFileSync(deadTemp, 'half');
    writeFileSync(liveTemp, 'in progress');
    writeFileSync(join(d, 'notes.tmp'), 'the user\'s own file');
    await writeFileAtomic(join(d, 'report.json'), 'whole');
    expect(existsSync(deadTemp)).toBe(false);
    expect(existsSync(liveTemp)).toBe(true);
    expect(readFileSync(join(d, 'notes.tmp'), 'utf8')).toBe('the user\'s own file');
    expect(readFileSync(join(d, 'report.json'), 'utf8')).toBe('whole');
  });

  it.skipIf(!DIST)('kill -9 between the renames of a report set: the next run completes the set, no mix and no .tmp remain', async () => {
    const d = dirs.fresh();
    const names = ['a.json', 'b.xml', 'c.md'];
    for (const n of names) writeFileSync(join(d, n), 'old');
    // A child writes the new set and SIGKILLs itself right after the first rename.
    const script = `
      import { writeFilesAtomic } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist', 'util', 'atomic.js')).href)};
      const files = ${JSON.stringify(names)}.map((n) => ({ path: ${JSON.stringify(d)} + '/' + n, bytes: new TextEncoder().encode('new') }));
      await writeFilesAtomic(files, { onRenamed: () => process.kill(process.pid, 'SIGKILL') });`;
    const signal = await new Promise<NodeJS.Signals | null>((done) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
      child.on('close', (_code, sig) => done(sig));
    });
    expect(signal).toBe('SIGKILL');
    const contents = () => names.map((n) => readFileSync(join(d, n), 'utf8'));
    // The crash left a mix on disk, and the journal that says so.
    expect(contents()).toEqual(['new', 'old', 'old']);
    expect(readdirSync(d).some((n) => n.startsWith('.robust-commit.'))).toBe(true);
    // The next run in the folder (here: any write) rolls the set forward before its own work.
    await writeFilesAtomic([{ path: join(d, 'other.txt'), bytes: new Uint8Array([1]) }]);
    expect(contents()).toEqual(['new', 'new', 'new']);
    expect(readdirSync(d).filter((n) => n.startsWith('.'))).toEqual([]);
    // recoverFolder on a clean folder does nothing.
    expect(await recoverFolder(d)).toEqual({ completed: [], removed: [] });
  });

  it('a failed write leaves every target as it was and no temporary file', async () => {
    const d = dirs.fresh();
    writeFileSync(join(d, 'keep.json'), 'old');
    mkdirSync(join(d, 'folder.json'));
    await expect(writeFilesAtomic([{ path: join(d, 'keep.json'), bytes: new Uint8Array([1]) }, { path: join(d, 'folder.json'), bytes: new Uint8Array([2]) }])).rejects.toThrow(/folder\.json/);
    expect(readFileSync(join(d, 'keep.json'), 'utf8')).toBe('old');
    expect(readdirSync(d).sort()).toEqual(['folder.json', 'keep.json']);
  });
});

describe('output paths are checked before any work', () => {
  it('a clash through a symlink is caught by real path and names both', async () => {
    const d = dirs.fresh();
    writeFileSync(join(d, 'model.json'), '{}');
    symlinkSync(join(d, 'model.json'), join(d, 'alias.json'));
    await expect(checkOutputs([{ label: '--json', path: join(d, 'alias.json') }], [{ label: 'the model', path: join(d, 'model.json') }])).rejects.toThrow(
      `--json (${join(d, 'alias.json')}) would overwrite the model (${join(d, 'model.json')})`,
    );
    // Inside an input folder (an image folder) is a clash too; beside it is not.
    mkdirSync(join(d, 'images'));
    await expect(checkOutputs([{ label: '--json', path: join(d, 'images', 'r.json') }], [{ label: 'the data', path: join(d, 'images'), folder: true }])).rejects.toThrow(/would overwrite the data/);
    await checkOutputs([{ label: '--json', path: join(d, 'r.json') }, { label: '--junit', path: '-' }], [{ label: 'the data', path: join(d, 'images'), folder: true }]);
  });

  it.skipIf(process.getuid?.() === 0)('a read-only output folder is refused (root can write anywhere, so this runs as a user)', async () => {
    const d = dirs.fresh();
    mkdirSync(join(d, 'ro'), { mode: 0o555 });
    await expect(checkOutputs([{ label: '--json', path: join(d, 'ro', 'r.json') }], [])).rejects.toThrow(/not writable/);
  });

  it('robust train --out onto a folder holding a model needs --force, and never replaces the model it trains from', async () => {
    const d = dirs.fresh();
    mkdirSync(join(d, 'm'));
    writeFileSync(join(d, 'm', 'model.json'), '{"modelTopology":{}}');
    let r = await runCli('--backend', 'cpu', 'train', '--out', join(d, 'm'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already holds a model \(model\.json\); pass --force/);
    r = await runCli('--backend', 'cpu', 'train', '--force', '--model', join(d, 'm', 'model.json'), '--out', join(d, 'm'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--out \(model\.json\) .* would overwrite the model under test/);
    expect(readFileSync(join(d, 'm', 'model.json'), 'utf8')).toBe('{"modelTopology":{}}');
  });
});

describe('an unreliable evaluation never reads as PASS', () => {
  const unreliable = makeSuiteResult({ pass: true, unreliable: true });
  it('the JSON verdict is "unreliable", and every format shows UNRELIABLE and no PASS', () => {
    expect(unreliable.verdict.status).toBe('unreliable');
    expect(JSON.parse(renderJson(unreliable)).verdict.status).toBe('unreliable');
    const consoleText = renderConsole(unreliable);
    expect(consoleText.split('\n')[0]).toBe('robust test  UNRELIABLE');
    expect(consoleText).not.toMatch(/\bPASS\b/);
    expect(renderMarkdown(unreliable).split('\n')[0]).toBe('### ⚠️ robust test: UNRELIABLE (thresholds met)');
    const html = renderHtml(unreliable);
    expect(html).toContain('<div class="verdict unreliable"><div class="big">⚠ UNRELIABLE');
    expect(html).not.toMatch(/✔ PASS/);
    expect(renderJunit(unreliable)).toContain("<system-out>robust test: UNRELIABLE</system-out>");
    expect(renderJunit(unreliable)).toContain('<property name="verdict" value="unreliable"/>');
    // Amber on a terminal (ANSI yellow), not green.
    expect(renderConsole(unreliable, { color: true }).split('\n')[0]).toMatch(/\u001b\[33mUNRELIABLE/);
  });
  it('a reliable pass still says PASS, and a failed unreliable run says FAIL and UNRELIABLE', () => {
    expect(renderConsole(makeSuiteResult({ pass: true })).split('\n')[0]).toBe('robust test  PASS');
    const both = makeSuiteResult({ unreliable: true });
    expect(both.verdict.status).toBe('fail');
    expect(renderConsole(both).split('\n')[0]).toBe('robust test  FAIL  UNRELIABLE');
  });
});

describe('long runs say how long before they start', () => {
  it('the estimate counts every gradient evaluation the suite may spend, before the first attack', async () => {
    const d = dirs.fresh();
    const { W, b } = linearWeights('estimate');
    const model = writeLinearGraphModel(d, W, b);
    const data = await writeLinearData(d, 20, W, b, 'estimate');
    const attacks = [
      { name: 'pgd', eps: [0.1, 0.2], options: { steps: 100_000, restarts: 3 } },
      { name: 'fgsm', eps: 0.1 },
      { name: 'cw', options: { binarySteps: 5, steps: 200 } },
    ];
    const cfg = parseConfig(JSON.stringify({ model: { path: model }, data: { source: { x: data.x, y: data.y } }, backend: 'cpu', attacks }), 'c.json', d);
    let seen: { gradientEvaluations: number; seconds: number } | null = null;
    let attacked = false;
    // Stop the run at the estimate: 6e5 PGD steps per example must not start for this test.
    const run = runSuite({ config: cfg, path: null, sha256: '' }, {
      onEstimate: (e) => {
        seen = e;
        throw new Error('stop here');
      },
      onProgress: (p) => void (p.stage === 'attack' && (attacked = true)),
    });
    await expect(run).rejects.toThrow('stop here');
    expect(attacked).toBe(false);
    expect(seen!.gradientEvaluations).toBe(20 * (2 * 100_000 * 3 + 1 + 5 * 200));
    // Standard AutoAttack: APGD-CE (100 steps), APGD-T and FAB-T (100 steps × 9 targets each), Square (5,000 queries, a third each).
    expect(attackWork('autoattack', {}, 1)).toBe(attackWork('apgd-ce', {}, 1) + attackWork('apgd-t', { targetClasses: 9 }, 1) + attackWork('fab-t', { targetClasses: 9 }, 1) + 5000 / 3);
    expect(attackWork('apgd-t', { targetClasses: 9 }, 1)).toBe(900);
    expect(attackWork('autoattack', { version: 'rand' }, 1)).toBe(20 * (attackWork('apgd-ce', {}, 1) + attackWork('apgd-dlr', {}, 1)));
    expect(seen!.seconds).toBeGreaterThan(0);
    expect([duration(30), duration(600), duration(7200)]).toEqual(['30 s', '10.0 min', '2.0 h']);
  });
});

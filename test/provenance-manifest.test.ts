import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.js';
import { linearWeights, writeLinearData, writeLinearGraphModel } from './fixtures/suite-fixtures.js';
import { gitInfo, modelFileHashes, relativeTo } from '../src/provenance/manifest.js';
import { readModelFiles } from '../src/models/io.js';
import { resultSchemaErrors } from '../src/report/schema.js';
import type { SuiteResult } from '../src/suite/types.js';

let dir: string;
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const C1 = 'a'.repeat(40);
const C2 = 'b'.repeat(40);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'robust-provenance-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('git commit without a git binary', () => {
  it('reads a loose ref, a packed ref, a detached HEAD and a worktree pointer', () => {
    const repo = join(dir, 'repo');
    mkdirSync(join(repo, '.git', 'refs', 'heads'), { recursive: true });
    mkdirSync(join(repo, 'sub', 'deeper'), { recursive: true });
    writeFileSync(join(repo, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(repo, '.git', 'refs', 'heads', 'main'), `${C1}\n`);
    expect(gitInfo(join(repo, 'sub', 'deeper'))).toEqual({ commit: C1, ref: 'refs/heads/main' });

    writeFileSync(join(repo, '.git', 'HEAD'), 'ref: refs/heads/packed\n');
    writeFileSync(join(repo, '.git', 'packed-refs'), `# pack-refs with: peeled fully-peeled sorted\n${C2} refs/heads/packed\n`);
    expect(gitInfo(repo)).toEqual({ commit: C2, ref: 'refs/heads/packed' });

    writeFileSync(join(repo, '.git', 'HEAD'), `${C2}\n`);
    expect(gitInfo(repo)).toEqual({ commit: C2, ref: null });

    // A linked worktree: ".git" is a file pointing at .git/worktrees/<name>, whose commondir holds the refs.
    const wt = join(dir, 'wt');
    mkdirSync(join(repo, '.git', 'worktrees', 'wt'), { recursive: true });
    mkdirSync(wt);
    writeFileSync(join(wt, '.git'), `gitdir: ${join(repo, '.git', 'worktrees', 'wt')}\n`);
    writeFileSync(join(repo, '.git', 'worktrees', 'wt', 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(repo, '.git', 'worktrees', 'wt', 'commondir'), '../..\n');
    expect(gitInfo(wt)).toEqual({ commit: C1, ref: 'refs/heads/main' });

    writeFileSync(join(repo, '.git', 'HEAD'), 'ref: refs/heads/missing\n');
    expect(gitInfo(repo)).toBeNull();
  });

  it('agrees with git rev-parse on this checkout, when git is installed', () => {
    let expected: string;
    try {
      expected = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    } catch {
      return; // no git binary: the fabricated repositories above are the oracle
    }
    expect(gitInfo(process.cwd())?.commit).toBe(expected);
  });
});

describe('model files and paths', () => {
  it('hashes each file, and the files concatenated give the model hash', async () => {
    const { W, b } = linearWeights('prov');
    const model = writeLinearGraphModel(join(dir, 'files-model'), W, b);
    const files = await modelFileHashes(model, dir);
    const whole = await readModelFiles(model);
    expect(files.map((f) => f.path)).toEqual(['files-model/model.json', ...whole.weightPaths.map((p) => `files-model/${p.split('/').at(-1)}`)]);
    const bytes = files.map((f) => readFileSync(join(dir, f.path)));
    files.forEach((f, i) => {
      expect(f.sha256).toBe(sha(bytes[i]!));
      expect(f.bytes).toBe(bytes[i]!.length);
    });
    expect(sha(Buffer.concat(bytes))).toBe(whole.sha256);
  });

  it('writes paths relative to a folder with / separators', () => {
    expect(relativeTo('/home/me/p/models/m/model.json', '/home/me/p')).toBe('models/m/model.json');
    expect(relativeTo('/home/me/data/x.npy', '/home/me/p')).toBe('../data/x.npy');
    expect(relativeTo('/home/me/p', '/home/me/p')).toBe('.');
  });
});

describe('the manifest of robust test', () => {
  it('records host, end time, command line, threads, per-file hashes and relative paths, and no absolute path', async () => {
    const { W, b } = linearWeights('prov-run');
    const proj = join(dir, 'proj');
    const model = writeLinearGraphModel(join(proj, 'model'), W, b);
    const data = await writeLinearData(join(proj, 'data'), 20, W, b, 'prov');
    const config = join(proj, 'robust.config.json');
    writeFileSync(config, JSON.stringify({ model: { path: model }, data: { source: { x: data.x, y: data.y } }, backend: 'cpu', attacks: [{ name: 'fgsm', eps: 0.05 }], samples: 0 }));
    const out = join(proj, 'result.json');
    const args = ['--quiet', '--json', out, 'test', '--config', config];
    const run = await runCli(...args);
    expect(run.code, run.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    const result = JSON.parse(text) as SuiteResult;
    expect(resultSchemaErrors(result)).toEqual([]);
    const m = result.manifest;
    expect(m.model.path).toBe('model/model.json');
    expect(m.data.source).toBe('npy:data/x.npy,data/y.npy');
    expect(m.data.subset).toEqual({ n: null, offset: 0, sample: 'first', seed: '0' });
    expect(m.model.files!.map((f) => f.path)[0]).toBe('model/model.json');
    expect(sha(Buffer.concat(m.model.files!.map((f) => readFileSync(join(proj, f.path)))))).toBe(m.model.sha256);
    expect(m.commandLine).toEqual(args);
    expect(m.host!.platform).toBe(`${process.platform}-${process.arch}`);
    expect(m.host!.os.length).toBeGreaterThan(0);
    expect(Date.parse(m.endedAt!)).toBeGreaterThanOrEqual(Date.parse(m.startedAt));
    expect(m.threads === null || Number.isInteger(m.threads)).toBe(true);
    // The user's folder appears only where they typed it (the command line), never in what robust wrote.
    const { commandLine: _, ...rest } = m;
    expect(JSON.stringify(rest)).not.toContain(dir);
  });
});

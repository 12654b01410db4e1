// `npm test`: runs every test file with node:test, then prints what the reliability suite tried
// and what held, and scans the logs of every service the suite ran for the personal data and
// secrets the suite used. Any failing test, or any value found in a log, fails the run.
//   npm test                         all of test/*.test.ts
//   npm test -- test/fuzz.test.ts    some files only
// TEST_DATABASE_URL=postgres://... runs the same tests on a PostgreSQL server.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
// A directory of this run's own, so that runs side by side never mix their figures and logs.
const resultsDir = mkdtempSync(path.join(tmpdir(), 'customercore-test-'));

function allTestFiles(): string[] {
  return readdirSync(path.join(root, 'test'))
    .filter((name) => name.endsWith('.test.ts'))
    .sort()
    .map((name) => path.join('test', name));
}

const files = process.argv.slice(2);
const run = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', ...(files.length > 0 ? files : allTestFiles())],
  { cwd: root, stdio: 'inherit', env: { ...process.env, CUSTOMERCORE_TEST_RESULTS: resultsDir } },
);

interface Trial {
  suite: string;
  check: string;
  tried: number;
  faults?: number;
  failures: number;
  engine: string;
}

function printTrials(): void {
  const file = path.join(resultsDir, 'trials.jsonl');
  if (!existsSync(file)) return;
  const trials = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Trial)
    .sort((a, b) => a.suite.localeCompare(b.suite) || a.check.localeCompare(b.check));
  const total = (pick: (trial: Trial) => number) => trials.reduce((sum, trial) => sum + pick(trial), 0);
  console.log(`\nReliability (${trials[0]?.engine ?? ''}): what was tried and what held`);
  for (const trial of trials) {
    const faults = trial.faults === undefined ? '' : `, ${trial.faults} faults`;
    const verdict = trial.failures === 0 ? 'held' : `FAILED ${trial.failures}×`;
    console.log(`  ${trial.suite}: ${trial.check} (${trial.tried} tried${faults}): ${verdict}`);
  }
  console.log(
    `  total: ${total((t) => t.tried)} requests and checks tried, ${total((t) => t.faults ?? 0)} faults injected, ` +
      `${total((t) => t.failures)} failures`,
  );
}

/** The personal values and secrets found in any log line, with where. */
function scanLogs(): number {
  const dir = path.join(resultsDir, 'logs');
  if (!existsSync(dir)) return 0;
  const records = readdirSync(dir).map(
    (name) =>
      JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as {
        source: string;
        lines: string[];
        sensitive: string[];
      },
  );
  const sensitive = new Set(records.flatMap((record) => record.sensitive));
  let lines = 0;
  let leaks = 0;
  for (const record of records) {
    for (const line of record.lines) {
      lines++;
      for (const value of sensitive) {
        if (!line.includes(value)) continue;
        leaks++;
        console.log(
          `  LEAK in ${path.relative(root, record.source)}: ${JSON.stringify(value)} in ${line.trim()}`,
        );
      }
    }
  }
  console.log(
    `\nLogs: ${lines} lines from ${records.length} test processes scanned for ${sensitive.size} ` +
      `personal values and secrets: ${leaks === 0 ? 'none found' : `${leaks} FOUND`}`,
  );
  return leaks;
}

printTrials();
const leaks = scanLogs();
rmSync(resultsDir, { recursive: true, force: true });
process.exitCode = run.status !== 0 || leaks > 0 ? 1 : 0;

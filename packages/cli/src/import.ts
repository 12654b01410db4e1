// `customercore import FILE`: creates customers from a CSV file (a header row of the contract's
// field names) or JSON lines, streamed (the file never sits in memory), in parallel.
//
// Resumable and idempotent: row N's Idempotency-Key is derived from the file's content hash and N,
// so a rerun after a crash or Ctrl-C creates nothing twice (a row already done is answered by the
// server's stored response: "already present"). A checkpoint in the config directory records the
// last row below which every row is done, so a rerun skips those without asking the server.
// Rows the server refuses go to a CSV report: row, code, field, message, original line.
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  readFileSync,
  writeFileSync,
  type WriteStream,
} from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { CustomerCoreError, type CreateCustomerInput, type CustomerCore } from '@customercore/client';
import { configDir, writePrivateFile } from './session-store.js';
import { Progress } from './progress.js';

export type ImportFormat = 'csv' | 'jsonl';

export interface ImportOptions {
  file: string;
  format: ImportFormat;
  /** Requests in flight at once. */
  concurrency: number;
  /** Most requests per minute (the key's budget), or undefined for no pacing beyond the server's 429s. */
  ratePerMinute: number | undefined;
  reportFile: string;
  /** Ignore any checkpoint: send every row again (still idempotent). */
  restart: boolean;
  /** Identifies the target (server and credential), so a checkpoint is never reused for another. */
  target: string;
  /** Where progress goes; a terminal gets a redrawn bar. */
  progressStream: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export interface ImportSummary {
  file: string;
  rows: number;
  created: number;
  alreadyPresent: number;
  rejected: number;
  /** Rows not attempted because the import was interrupted or the service failed. */
  remaining: boolean;
  skippedFromCheckpoint: number;
  report: string | null;
  seconds: number;
  rowsPerSecond: number;
}

interface Row {
  number: number;
  line: string;
  body: Record<string, unknown> | undefined;
  parseError?: string;
}

interface Checkpoint {
  file: string;
  fileHash: string;
  /** Every row up to and including this one is done. */
  doneThrough: number;
  created: number;
  alreadyPresent: number;
  rejected: number;
}

/** The file's identity (SHA-256 of its bytes) and its number of data rows, in one streamed pass. */
async function identify(file: string, format: ImportFormat): Promise<{ hash: string; rows: number }> {
  const hash = createHash('sha256');
  let newlines = 0;
  let last = 10;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    for (const byte of chunk) if (byte === 10) newlines++;
    last = chunk.at(-1) ?? last;
  }
  const lines = newlines + (last === 10 ? 0 : 1);
  // A CSV row can span lines (a quoted newline): the count is what the progress bar estimates with.
  return { hash: hash.digest('hex'), rows: Math.max(0, format === 'csv' ? lines - 1 : lines) };
}

async function* csvRows(file: string): AsyncGenerator<Row> {
  const parser = createReadStream(file).pipe(
    parse({
      columns: true,
      raw: true,
      info: true,
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
    }),
  );
  let number = 0;
  for await (const entry of parser as AsyncIterable<{
    record: Record<string, string>;
    raw: string;
    info: { columns: unknown[] };
  }>) {
    number++;
    const line = entry.raw.replace(/\r?\n$/, '');
    const body: Record<string, unknown> = {};
    // An empty cell is an absent optional field, not an empty string.
    for (const [field, value] of Object.entries(entry.record)) if (value !== '') body[field] = value;
    yield { number, line, body };
  }
}

async function* jsonLines(file: string): AsyncGenerator<Row> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let number = 0;
  for await (const line of lines) {
    number++;
    if (line.trim() === '') continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        yield { number, line, body: undefined, parseError: 'The line is not a JSON object' };
      } else {
        yield { number, line, body: parsed as Record<string, unknown> };
      }
    } catch {
      yield { number, line, body: undefined, parseError: 'The line is not valid JSON' };
    }
  }
}

const csvCell = (value: string | number) => {
  const text = String(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
};

const REPORT_HEADER = 'row,code,field,message,line\n';

/** The report's rows up to `through` (a resumed run rewrites the rest). */
function keepReportThrough(reportFile: string, through: number): void {
  if (!existsSync(reportFile)) {
    writeFileSync(reportFile, REPORT_HEADER);
    return;
  }
  const kept = parseSync<Record<string, string>>(readFileSync(reportFile), { columns: true }).filter(
    (entry) => Number(entry.row) <= through,
  );
  writeFileSync(
    reportFile,
    REPORT_HEADER +
      kept
        .map(
          (entry) =>
            [entry.row ?? '', entry.code ?? '', entry.field ?? '', entry.message ?? '', entry.line ?? '']
              .map(csvCell)
              .join(',') + '\n',
        )
        .join(''),
  );
}

function write(stream: WriteStream, text: string): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(text)) resolve();
    else stream.once('drain', resolve);
  });
}

export async function importCustomers(cc: CustomerCore, options: ImportOptions): Promise<ImportSummary> {
  const started = Date.now();
  const { hash, rows: estimatedRows } = await identify(options.file, options.format);
  const keyPrefix = `cci-${hash.slice(0, 32)}-row-`;
  const checkpointFile = path.join(
    configDir(options.env),
    'imports',
    `${createHash('sha256').update(`${hash}\n${options.target}`).digest('hex').slice(0, 32)}.json`,
  );
  let checkpoint: Checkpoint = {
    file: path.resolve(options.file),
    fileHash: hash,
    doneThrough: 0,
    created: 0,
    alreadyPresent: 0,
    rejected: 0,
  };
  if (!options.restart && existsSync(checkpointFile)) {
    checkpoint = JSON.parse(readFileSync(checkpointFile, 'utf8')) as Checkpoint;
  }
  const resumedFrom = checkpoint.doneThrough;
  if (resumedFrom > 0) keepReportThrough(options.reportFile, resumedFrom);
  else writeFileSync(options.reportFile, REPORT_HEADER);
  const report = createWriteStream(options.reportFile, { flags: 'a' });

  const counts = {
    created: checkpoint.created,
    alreadyPresent: checkpoint.alreadyPresent,
    rejected: checkpoint.rejected,
  };
  // Outcomes of rows past the checkpoint, until every row before them is done too.
  const pending = new Map<number, 'created' | 'alreadyPresent' | 'rejected'>();
  const saveCheckpoint = () => {
    writePrivateFile(checkpointFile, JSON.stringify(checkpoint));
  };
  const settle = (row: number, outcome: 'created' | 'alreadyPresent' | 'rejected') => {
    counts[outcome]++;
    pending.set(row, outcome);
    for (
      let next = pending.get(checkpoint.doneThrough + 1);
      next !== undefined;
      next = pending.get(checkpoint.doneThrough + 1)
    ) {
      pending.delete(checkpoint.doneThrough + 1);
      checkpoint.doneThrough++;
      checkpoint[next]++;
    }
  };

  const progress = new Progress(options.progressStream, estimatedRows, resumedFrom);
  const reject = async (row: Row, code: string, field: string, message: string) => {
    await write(report, [row.number, code, field, message, row.line].map(csvCell).join(',') + '\n');
    settle(row.number, 'rejected');
  };

  let fatal: unknown;
  const inFlight = new Set<Promise<void>>();
  const minIntervalMs = options.ratePerMinute === undefined ? 0 : 60_000 / options.ratePerMinute;
  let nextStart = Date.now();
  let lastSave = Date.now();
  let seen = resumedFrom;

  const send = async (row: Row) => {
    try {
      const { meta } = await cc.callWithMeta('customerCreate', row.body as CreateCustomerInput, {
        // Not the abort signal: on Ctrl-C the requests in flight finish, so their rows are settled.
        idempotencyKey: `${keyPrefix}${String(row.number)}`,
      });
      settle(row.number, meta.replayed ? 'alreadyPresent' : 'created');
    } catch (error) {
      if (
        error instanceof CustomerCoreError &&
        error.statusCode >= 400 &&
        error.statusCode < 500 &&
        error.statusCode !== 401 &&
        error.statusCode !== 403
      ) {
        // A replayed refusal is the same refusal: the row is reported again, never created.
        await reject(row, error.code, error.field ?? '', error.message);
      } else {
        fatal ??= error;
      }
    }
    progress.update(checkpoint.doneThrough, counts, seen);
  };

  const rows = options.format === 'csv' ? csvRows(options.file) : jsonLines(options.file);
  for await (const row of rows) {
    if (fatal !== undefined || options.signal?.aborted === true) break;
    if (row.number <= resumedFrom) continue;
    seen = row.number;
    if (row.body === undefined) {
      await reject(row, 'INVALID_JSON', '', row.parseError ?? 'Not a JSON object');
      continue;
    }
    if (minIntervalMs > 0) {
      const wait = nextStart - Date.now();
      nextStart = Math.max(nextStart, Date.now()) + minIntervalMs;
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const task = send(row).finally(() => inFlight.delete(task));
    inFlight.add(task);
    if (inFlight.size >= options.concurrency) await Promise.race(inFlight);
    if (Date.now() - lastSave > 1000) {
      saveCheckpoint();
      lastSave = Date.now();
    }
  }
  await Promise.all(inFlight);
  saveCheckpoint();
  await new Promise<void>((resolve) => report.end(resolve));
  progress.finish(checkpoint.doneThrough, counts);

  const remaining = fatal !== undefined || options.signal?.aborted === true;
  if (fatal !== undefined)
    throw fatal instanceof Error ? fatal : new Error('The import stopped', { cause: fatal });
  const seconds = (Date.now() - started) / 1000;
  const attempted = checkpoint.doneThrough - resumedFrom;
  return {
    file: options.file,
    rows: checkpoint.doneThrough,
    ...counts,
    remaining,
    skippedFromCheckpoint: resumedFrom,
    report: counts.rejected > 0 ? options.reportFile : null,
    seconds: Math.round(seconds * 10) / 10,
    rowsPerSecond: seconds > 0 ? Math.round(attempted / seconds) : attempted,
  };
}

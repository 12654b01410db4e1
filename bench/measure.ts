// The two load generators of the throughput bench, both closed loops with a fixed number of
// requests in flight: autocannon over HTTP against the service, and a loop of direct calls for the
// baseline. Both report the same figures.
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';

export interface Figures {
  /** Successful operations. */
  count: number;
  /** Successful operations per second. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Failed operations: connection errors, timeouts, and answers other than 2xx. */
  errors: number;
  /** Peak resident memory of the service during the run, in MiB (HTTP runs only). */
  peakMemoryMiB?: number;
  /** CPU time per successful operation, in microseconds, of each process involved. */
  cpuMicros?: CpuShare;
}

export interface CpuShare {
  /** The service process (HTTP runs only). */
  service?: number;
  /** The PostgreSQL backends serving the bench database (server runs only). */
  database?: number;
  /** This process: autocannon, or the baseline's calls and driver. */
  client: number;
}

/** User and system CPU seconds a process has used; 0 once it is gone. */
export function cpuSecondsOf(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // Fields after the command name, which is in parentheses and may hold spaces; utime and stime
  // are fields 14 and 15, in clock ticks (100 a second on Linux).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A growable list of latencies in milliseconds. */
class Recorder {
  private values = new Float64Array(1 << 16);
  private count = 0;

  add(value: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = value;
  }

  sorted(): Float64Array {
    return this.values.slice(0, this.count).sort();
  }
}

const quantile = (sorted: Float64Array, q: number): number =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);

/** Runs `operation` from `concurrency` loops for `seconds`; every call is one operation. */
export async function directLoad(
  concurrency: number,
  seconds: number,
  operation: (n: number) => Promise<unknown>,
): Promise<Figures> {
  const latencies = new Recorder();
  let errors = 0;
  let next = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  const loop = async () => {
    while (performance.now() < end) {
      const n = next++;
      const before = performance.now();
      try {
        await operation(n);
      } catch {
        errors++;
        continue;
      }
      latencies.add(performance.now() - before);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - started) / 1000;
  const sorted = latencies.sorted();
  return {
    count: sorted.length,
    rps: sorted.length / elapsed,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    errors,
  };
}

/**
 * The peak resident memory of a process during `work`. The kernel's high-water mark (VmHWM) is
 * reset first (clear_refs 5), so the figure is this run's own peak; where that is not allowed,
 * the resident size is sampled instead.
 */
export async function peakMemoryDuring<T>(pid: number, work: () => Promise<T>): Promise<[T, number]> {
  const status = () => readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status())?.[1] ?? 0);
  let resettable = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    resettable = false;
  }
  let sampled = kib('VmRSS');
  const sampler = setInterval(() => {
    sampled = Math.max(sampled, kib('VmRSS'));
  }, 50);
  try {
    const result = await work();
    const peak = resettable ? Math.max(kib('VmHWM'), sampled) : Math.max(sampled, kib('VmRSS'));
    return [result, peak / 1024];
  } finally {
    clearInterval(sampler);
  }
}

export interface HttpLoadOptions {
  url: string;
  headers: Record<string, string>;
  concurrency: number;
  seconds: number;
  /** The n-th request's path and JSON body. */
  request: (n: number) => { path: string; body: string };
}

/**
 * autocannon with `concurrency` connections, one request in flight on each. Latencies are taken
 * from its response events (autocannon's own histogram rounds to whole milliseconds), so that they
 * are measured as finely as the baseline's.
 */
export async function httpLoad(options: HttpLoadOptions): Promise<Figures> {
  let n = 0;
  const latencies = new Recorder();
  let failed = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.concurrency,
        pipelining: 1,
        duration: options.seconds,
        timeout: 30,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...options.headers },
            setupRequest: (request) => ({ ...request, ...options.request(n++) }),
          },
        ],
      },
      (error: unknown, finished) => {
        if (error === null || error === undefined) resolve(finished);
        else
          reject(error instanceof Error ? error : new Error(`autocannon failed: ${JSON.stringify(error)}`));
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.add(responseTime);
      else failed++;
    });
  });
  const sorted = latencies.sorted();
  return {
    count: sorted.length,
    rps: sorted.length / result.duration,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    errors: result.errors + failed,
  };
}

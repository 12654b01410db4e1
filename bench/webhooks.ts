// The webhook scenario of `npm run bench` (issue 11): what one subscribed endpoint costs the write
// path, and whether delivery keeps up with it.
//
// Two institutions on the same service: one with no endpoint, one with an endpoint subscribed to
// every event type, pointing at a receiver in this process (a partner's: it verifies every
// signature with the `standardwebhooks` package and answers 200). Create is loaded on each in
// turn, alternating, for `rounds` rounds; each round's share is the endpoint's throughput over the
// no-endpoint run just before it, and the median share is the figure. The lag of each delivered
// `customer.created` is its receipt time minus the event's `timestamp` (the creating transaction's
// start, a little before its commit, so the lag is slightly overstated); the receiver waits after
// each run until every acknowledged create's event has arrived, and reports any that did not.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Webhook } from 'standardwebhooks';
import { httpLoad, type Figures } from './measure.js';
import { createFields } from './workload.js';

export interface Partner {
  headers: Record<string, string>;
}

export interface WebhookScenarioOptions {
  baseUrl: string;
  /** Onboards an institution with an API key; `name` keeps their owners apart. */
  onboard(name: string): Promise<Partner>;
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  rounds: number;
  /** Runs `work` and adds the CPU time each process spent per operation (run.ts's accounting). */
  account?: (work: () => Promise<Figures>) => Promise<Figures>;
}

export interface WebhookRound {
  none: Figures;
  subscribed: Figures;
  share: number;
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  delivered: number;
  /** Acknowledged creates whose event had not arrived 30 s after the run. */
  missing: number;
  badSignatures: number;
}

interface Receipt {
  customerId: string;
  lagMs: number;
}

const quantile = (sorted: readonly number[], q: number): number =>
  sorted.length === 0
    ? Number.NaN
    : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);

const median = (values: readonly number[]): number =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A partner's receiver: verifies, records, answers 200. */
async function startReceiver() {
  let verifier: Webhook | undefined;
  let receipts: Receipt[] = [];
  let badSignatures = 0;
  const server = createServer((request, response) => {
    void readBody(request).then((body) => {
      const receivedAt = Date.now();
      try {
        if (verifier === undefined) throw new Error('no secret yet');
        const event = verifier.verify(body, {
          'webhook-id': String(request.headers['webhook-id']),
          'webhook-timestamp': String(request.headers['webhook-timestamp']),
          'webhook-signature': String(request.headers['webhook-signature']),
        }) as { type: string; timestamp: string; data: { customerId?: string } };
        if (event.type === 'customer.created' && event.data.customerId !== undefined) {
          receipts.push({
            customerId: event.data.customerId,
            lagMs: receivedAt - Date.parse(event.timestamp),
          });
        }
      } catch {
        badSignatures++;
      }
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    useSecret(secret: string) {
      verifier = new Webhook(secret);
    },
    /** The receipts since the last call, and the bad signatures among them. */
    take() {
      const taken = { receipts, badSignatures };
      receipts = [];
      badSignatures = 0;
      return taken;
    },
    count: () => receipts.length,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

export async function webhookScenario(options: WebhookScenarioOptions): Promise<WebhookRound[]> {
  const receiver = await startReceiver();
  try {
    const plain = await options.onboard('plain');
    const subscribed = await options.onboard('subscribed');
    const created = await fetch(`${options.baseUrl}/v2/webhook/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...subscribed.headers },
      body: JSON.stringify({ url: receiver.url, description: 'bench receiver' }),
    });
    const endpoint = (await created.json()) as { data: { secret: string } };
    if (created.status !== 201)
      throw new Error(`webhook/create: ${created.status} ${JSON.stringify(endpoint)}`);
    receiver.useSecret(endpoint.data.secret);

    let run = 0;
    const load = (partner: Partner, seconds: number) => {
      const tag = `wh${run++}`;
      const work = () =>
        httpLoad({
          url: options.baseUrl,
          headers: partner.headers,
          concurrency: options.concurrency,
          seconds,
          request: (n) => ({ path: '/v2/customer/create', body: JSON.stringify(createFields(n, tag)) }),
        });
      return options.account === undefined ? work() : options.account(work);
    };
    /** Waits until `expected` events have arrived, or 30 s. */
    const drain = async (expected: number) => {
      const deadline = performance.now() + 30_000;
      while (receiver.count() < expected && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return receiver.take();
    };

    await load(plain, options.warmupSeconds);
    const warm = await load(subscribed, options.warmupSeconds);
    await drain(warm.count);

    const rounds: WebhookRound[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const none = await load(plain, options.seconds);
      const withEndpoint = await load(subscribed, options.seconds);
      const { receipts, badSignatures } = await drain(withEndpoint.count);
      const lags = receipts.map((receipt) => receipt.lagMs).sort((a, b) => a - b);
      const delivered = new Set(receipts.map((receipt) => receipt.customerId)).size;
      rounds.push({
        none,
        subscribed: withEndpoint,
        share: withEndpoint.rps / none.rps,
        lagP50Ms: quantile(lags, 0.5),
        lagP99Ms: quantile(lags, 0.99),
        lagMaxMs: lags.at(-1) ?? Number.NaN,
        delivered,
        missing: Math.max(0, withEndpoint.count - delivered),
        badSignatures,
      });
    }
    return rounds;
  } finally {
    await receiver.close();
  }
}

const fixed = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

/** The scenario's table and its verdict against issue 11's targets. */
export function printWebhookRounds(rounds: readonly WebhookRound[], concurrency: number): boolean {
  console.log(
    `\nWebhooks: create at ${concurrency} connections with no endpoint, then with one subscribed ` +
      'endpoint (a local receiver verifying each signature, answering 200), alternating; lag = receipt − event timestamp.',
  );
  console.log(
    '| round | rps, no endpoint | rps, one endpoint | share | errors | delivered | missing | bad signatures | lag p50 ms | lag p99 ms | lag max ms | CPU µs per create, no endpoint (service / database / bench) | same, one endpoint |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const cpu = (figures: Figures) =>
    figures.cpuMicros === undefined
      ? '-'
      : `${fixed(figures.cpuMicros.service ?? Number.NaN)} / ${fixed(figures.cpuMicros.database ?? Number.NaN)} / ${fixed(figures.cpuMicros.client)}`;
  rounds.forEach((round, index) => {
    console.log(
      `| ${index + 1} | ${fixed(round.none.rps)} | ${fixed(round.subscribed.rps)} | ${fixed(round.share * 100)}% | ` +
        `${round.none.errors + round.subscribed.errors} | ${round.delivered} | ${round.missing} | ${round.badSignatures} | ` +
        `${fixed(round.lagP50Ms)} | ${fixed(round.lagP99Ms)} | ${fixed(round.lagMaxMs)} | ${cpu(round.none)} | ${cpu(round.subscribed)} |`,
    );
  });
  const share = median(rounds.map((round) => round.share));
  const lagP99 = median(rounds.map((round) => round.lagP99Ms));
  const clean = rounds.every(
    (round) =>
      round.missing === 0 && round.badSignatures === 0 && round.none.errors + round.subscribed.errors === 0,
  );
  const met = share >= 0.85 && lagP99 < 1000 && clean;
  console.log(
    `median share ${fixed(share * 100)}% (target ≥ 85%), median lag p99 ${fixed(lagP99)} ms (target < 1000 ms), ` +
      `${clean ? 'every event delivered and verified, no errors' : 'events missing, unverified or errors'}: ` +
      (met ? 'targets met' : 'targets NOT met'),
  );
  return met;
}

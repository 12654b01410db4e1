// The `customercore` command: `noun verb` commands over @customercore/client, `--json` on every
// one, errors with the contract's code and request id, and exit codes scripts can rely on
// (output.ts). Credentials: --api-key / --token, else CUSTOMERCORE_API_KEY or CUSTOMERCORE_TOKEN
// (with CUSTOMERCORE_URL), else the session `customercore login` stored.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { Command, CommanderError, Option } from 'commander';
import { CustomerCore, type CustomerCoreOptions, type FindCustomersInput } from '@customercore/client';
import { exportCustomers, type ExportFormat } from './export.js';
import { importCustomers, type ImportFormat } from './import.js';
import { EXIT, printError, printResult, UsageError, type Output } from './output.js';
import { deleteSession, readSession, sessionFile, writeSession } from './session-store.js';

export interface Io {
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
}

interface GlobalOptions {
  json?: boolean;
  url?: string;
  apiKey?: string;
  token?: string;
}

interface Resolved {
  cc: CustomerCore;
  /** Names the server and credential, never the secret itself (import checkpoints). */
  target: string;
}

const fingerprint = (secret: string) => createHash('sha256').update(secret).digest('hex').slice(0, 16);

function resolveClient(globals: GlobalOptions, io: Io): Resolved {
  const env = io.env;
  const apiKey = globals.apiKey ?? env.CUSTOMERCORE_API_KEY;
  const token = globals.token ?? env.CUSTOMERCORE_TOKEN;
  const stored = readSession(env);
  const url = globals.url ?? env.CUSTOMERCORE_URL ?? stored?.url;
  if (url === undefined || url === '') {
    throw new UsageError(
      'No service URL: run `customercore login --url URL`, or set CUSTOMERCORE_URL (with CUSTOMERCORE_API_KEY or CUSTOMERCORE_TOKEN)',
    );
  }
  const common: Pick<CustomerCoreOptions, 'baseUrl'> = { baseUrl: url };
  if (apiKey !== undefined && apiKey !== '') {
    return { cc: new CustomerCore({ ...common, apiKey }), target: `${url} key:${fingerprint(apiKey)}` };
  }
  if (token !== undefined && token !== '') {
    return {
      cc: new CustomerCore({ ...common, accessToken: token }),
      target: `${url} token:${fingerprint(token)}`,
    };
  }
  if (stored !== undefined && stored.url === url) {
    return {
      cc: new CustomerCore({
        ...common,
        session: stored.session,
        // A refreshed session replaces the stored one (refresh tokens are single-use).
        onSession: (session) => {
          if (session === undefined) deleteSession(env);
          else writeSession({ ...stored, session }, env);
        },
      }),
      target: `${url} user:${stored.merchantId ?? 'operator'}:${stored.email}`,
    };
  }
  throw new UsageError(
    'Not logged in: run `customercore login`, or set CUSTOMERCORE_API_KEY or CUSTOMERCORE_TOKEN with CUSTOMERCORE_URL',
  );
}

async function readPassword(io: Io, fromStdin: boolean): Promise<string> {
  if (io.env.CUSTOMERCORE_PASSWORD !== undefined && !fromStdin) return io.env.CUSTOMERCORE_PASSWORD;
  if (!fromStdin && !io.stdin.isTTY) {
    throw new UsageError('No password: use --password-stdin, CUSTOMERCORE_PASSWORD, or run on a terminal');
  }
  const lines = createInterface({ input: io.stdin, terminal: false });
  if (!fromStdin) io.stderr.write('Password: ');
  for await (const line of lines) {
    lines.close();
    if (!fromStdin) io.stderr.write('\n');
    return line;
  }
  throw new UsageError('No password on standard input');
}

/** `field=value` pairs; a value that is JSON (a number, null, true) stays that, else a string. */
function assignments(pairs: string[]): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`Expected field=value, got ${JSON.stringify(pair)}`);
    const value = pair.slice(at + 1);
    body[pair.slice(0, at)] = value === 'null' ? null : value;
  }
  return body;
}

function jsonOption(text: string | undefined, name: string): Record<string, unknown> {
  if (text === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new UsageError(`${name} must be a JSON object`);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];
const positiveInteger = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1)
    throw new UsageError(`Expected a positive integer, got ${value}`);
  return parsed;
};

export function buildProgram(io: Io, setExit: (code: number) => void): Command {
  const program = new Command('customercore')
    .description(
      'The CustomerCore command line: sessions, institutions, users, API keys, customers, bulk import and export',
    )
    .version('0.1.0')
    .option('--json', 'print results (and errors, on stderr) as JSON, for scripts')
    .option('--url <url>', 'the service URL (default: CUSTOMERCORE_URL, or the logged-in session)')
    .option('--api-key <key>', 'an institution API key (default: CUSTOMERCORE_API_KEY)')
    .option('--token <token>', 'an access token (default: CUSTOMERCORE_TOKEN)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .addHelpText(
      'after',
      `
Credentials: --api-key or --token, else CUSTOMERCORE_API_KEY or CUSTOMERCORE_TOKEN (with
CUSTOMERCORE_URL), else the session stored by \`customercore login\` (${sessionFile(io.env)}).

Exit codes: 0 ok · 1 the API refused the request · 2 usage · 3 not authenticated or not allowed ·
4 service unreachable or failing (safe to retry) · 5 import done with rejected rows · 130 interrupted.`,
    );

  const output = (command: Command): Output => ({
    json: command.optsWithGlobals<GlobalOptions>().json ?? false,
    out: (text) => io.stdout.write(`${text}\n`),
    err: (text) => io.stderr.write(`${text}\n`),
  });
  /** Runs an action with the client, printing its result or error. */
  const act =
    <A extends unknown[]>(run: (resolved: Resolved, command: Command, ...args: A) => Promise<unknown>) =>
    async (...args: [...A, Record<string, unknown>, Command]) => {
      const command = args[args.length - 1] as Command;
      const out = output(command);
      try {
        const resolved = resolveClient(command.optsWithGlobals<GlobalOptions>(), io);
        const result = await run(resolved, command, ...(args.slice(0, -2) as A));
        if (result !== undefined) printResult(out, result);
      } catch (error) {
        setExit(printError(out, error));
      }
    };

  program
    .command('login')
    .description('Log in and store the session in your config directory (readable by you only)')
    .requiredOption('--email <email>', 'your email')
    .option('--merchant-id <id>', 'your institution id (operators: none)')
    .option(
      '--password-stdin',
      'read the password from standard input (else CUSTOMERCORE_PASSWORD, else a prompt)',
    )
    .action(
      async (options: { email: string; merchantId?: string; passwordStdin?: boolean }, command: Command) => {
        const out = output(command);
        try {
          const globals = command.optsWithGlobals<GlobalOptions>();
          const url = globals.url ?? io.env.CUSTOMERCORE_URL;
          if (url === undefined)
            throw new UsageError('Give the service URL with --url (or CUSTOMERCORE_URL)');
          const password = await readPassword(io, options.passwordStdin === true);
          const cc = new CustomerCore({ baseUrl: url });
          const session = await cc.login({
            email: options.email,
            password,
            ...(options.merchantId === undefined ? {} : { merchantId: options.merchantId }),
          });
          writeSession(
            { url, email: options.email, merchantId: options.merchantId ?? null, session },
            io.env,
          );
          printResult(out, {
            loggedIn: true,
            url,
            email: options.email,
            expiresAt: session.expiresAt,
            sessionFile: sessionFile(io.env),
          });
        } catch (error) {
          setExit(printError(out, error));
        }
      },
    );

  program
    .command('logout')
    .description('End the stored session (with its refresh token) and forget it')
    .action(
      act(async ({ cc }) => {
        await cc.logout();
        deleteSession(io.env);
        return { loggedOut: true };
      }),
    );

  const institution = program.command('institution').description('Institutions (operator accounts)');
  institution
    .command('create')
    .description('Create an institution and its owner; a generated owner password is shown once')
    .requiredOption('--title <title>', 'its name')
    .requiredOption('--owner-email <email>', "its owner's email")
    .option('--owner-password <password>', "the owner's password (else generated and shown once)")
    .action(
      act(async ({ cc }, command) => {
        const o = command.opts<{ title: string; ownerEmail: string; ownerPassword?: string }>();
        return cc.admin.createInstitution({
          title: o.title,
          ownerEmail: o.ownerEmail,
          ...(o.ownerPassword === undefined ? {} : { ownerPassword: o.ownerPassword }),
        });
      }),
    );

  const user = program.command('user').description("Your institution's users (Owners)");
  user
    .command('create')
    .description('Add a user; a generated password is shown once')
    .requiredOption('--email <email>', 'their email')
    .addOption(
      new Option('--role <role>', 'their role').choices(['Owner', 'Admin', 'Viewer']).makeOptionMandatory(),
    )
    .option('--password <password>', 'their password (else generated and shown once)')
    .action(
      act(async ({ cc }, command) => {
        const o = command.opts<{ email: string; role: 'Owner' | 'Admin' | 'Viewer'; password?: string }>();
        return cc.users.create({
          email: o.email,
          role: o.role,
          ...(o.password === undefined ? {} : { password: o.password }),
        });
      }),
    );
  user
    .command('list')
    .description("List the institution's users")
    .action(act(async ({ cc }) => cc.users.list()));

  const apiKey = program
    .command('api-key')
    .description("Your institution's API keys (Owners and Admins, logged in)");
  apiKey
    .command('create')
    .description('Create a key; its secret is shown in this answer only')
    .requiredOption('--name <name>', 'what it is for')
    .option(
      '--scope <scope>',
      'customers:read, customers:write, customers:erase or webhooks:manage (repeatable; default the first two)',
      collect,
    )
    .option('--allowed-ip <address>', 'an address or CIDR range it may be used from (repeatable)', collect)
    .option('--expires-at <date>', 'an ISO 8601 date-time after which it stops working')
    .action(
      act(async ({ cc }, command) => {
        const o = command.opts<{
          name: string;
          scope?: string[];
          allowedIp?: string[];
          expiresAt?: string;
        }>();
        return cc.apiKeys.create({
          name: o.name,
          ...(o.scope === undefined
            ? {}
            : {
                scopes: o.scope as (
                  'customers:read' | 'customers:write' | 'customers:erase' | 'webhooks:manage'
                )[],
              }),
          ...(o.allowedIp === undefined ? {} : { allowedIps: o.allowedIp }),
          ...(o.expiresAt === undefined ? {} : { expiresAt: o.expiresAt }),
        });
      }),
    );
  apiKey
    .command('list')
    .description('List the keys, revoked ones included, without secrets')
    .action(act(async ({ cc }) => cc.apiKeys.list()));
  apiKey
    .command('revoke <id>')
    .description('Revoke a key: it stops working at once')
    .action(act(async ({ cc }, _command, id: string) => cc.apiKeys.revoke(id)));

  const webhook = program
    .command('webhook')
    .description("Your institution's webhook endpoints (Owners and Admins, or a key with webhooks:manage)");
  webhook
    .command('create <url>')
    .description(
      'Subscribe an https endpoint (where the events are POSTed); its secret is shown in this answer only',
    )
    .option(
      '--event-type <type>',
      'customer.created, customer.updated, wallet.status_changed or customer.erased (repeatable; default all)',
      collect,
    )
    .option('--description <text>', 'what it is for')
    .action(
      act(async ({ cc }, command, url: string) => {
        const o = command.opts<{ eventType?: string[]; description?: string }>();
        type EventTypes = NonNullable<Parameters<typeof cc.webhooks.create>[0]['eventTypes']>;
        return cc.webhooks.create({
          url,
          ...(o.eventType === undefined ? {} : { eventTypes: o.eventType as EventTypes }),
          ...(o.description === undefined ? {} : { description: o.description }),
        });
      }),
    );
  webhook
    .command('list')
    .description('List the endpoints, without secrets')
    .action(act(async ({ cc }) => cc.webhooks.list()));
  webhook
    .command('test <id>')
    .description('Send a ping event to the endpoint; its id is the webhook-id the receiver gets')
    .action(act(async ({ cc }, _command, id: string) => cc.webhooks.test(id)));
  webhook
    .command('rotate-secret <id>')
    .description('A new signing secret, shown once; the old one signs beside it for 24 hours')
    .action(act(async ({ cc }, _command, id: string) => cc.webhooks.rotateSecret(id)));
  webhook
    .command('deliveries <id>')
    .description("The endpoint's deliveries, newest first, with each one's last attempt")
    .option('--status <status>', 'pending, succeeded or failed')
    .option('--take <n>', 'how many (default 20)', '20')
    .action(
      act(async ({ cc }, command, id: string) => {
        const o = command.opts<{ status?: 'pending' | 'succeeded' | 'failed'; take: string }>();
        const page = await cc.webhooks.deliveries({
          endpointId: id,
          take: Number(o.take),
          ...(o.status === undefined ? {} : { status: o.status }),
        });
        return page.data;
      }),
    );

  const customer = program.command('customer').description("Your institution's customers");
  customer
    .command('get <id>')
    .description('One customer, with every field')
    .action(act(async ({ cc }, _command, id: string) => cc.customers.retrieve(id)));
  customer
    .command('create')
    .description('Create a customer from field=value pairs or --data JSON')
    .option('--data <json>', 'the body as a JSON object')
    .option('--set <field=value>', 'a field (repeatable)', collect, [])
    .option('--idempotency-key <key>', 'the Idempotency-Key (default: a random one)')
    .action(
      act(async ({ cc }, command) => {
        const o = command.opts<{ data?: string; set: string[]; idempotencyKey?: string }>();
        const body = { ...jsonOption(o.data, '--data'), ...assignments(o.set) };
        return cc.customers.create(
          body as never,
          o.idempotencyKey === undefined ? {} : { idempotencyKey: o.idempotencyKey },
        );
      }),
    );
  customer
    .command('find')
    .description('Find customers (newest first); filters as field=value')
    .option(
      '--filter <field=value>',
      'email, phoneNumber, fullName, walletStatus, createdFrom, ... (repeatable)',
      collect,
      [],
    )
    .option('--take <n>', 'page size (1-100)', positiveInteger)
    .option('--skip <n>', 'how many to skip', (value: string) => Number(value))
    .option('--all', 'every page, not only the first')
    .action(
      act(async ({ cc }, command) => {
        const o = command.opts<{ filter: string[]; take?: number; skip?: number; all?: boolean }>();
        const filters = assignments(o.filter) as FindCustomersInput;
        if (o.all === true) {
          const all = [];
          for await (const item of cc.customers.list(filters)) all.push(item);
          return all;
        }
        const page = await cc.customers.find({
          ...filters,
          ...(o.take === undefined ? {} : { take: o.take }),
          ...(o.skip === undefined ? {} : { skip: o.skip }),
        });
        return output(command).json ? page : page.data;
      }),
    );
  customer
    .command('erase <id>')
    .description("Erase a customer's personal data for good (right to erasure; cannot be undone)")
    .requiredOption('--reason <text>', 'why, as the history will record it (e.g. the request reference)')
    .action(
      act(async ({ cc }, command, id: string) =>
        cc.customers.erase(id, command.opts<{ reason: string }>().reason),
      ),
    );
  customer
    .command('update <id>')
    .description('Change fields (field=value; null clears) or the wallet status')
    .option('--set <field=value>', 'a field to change (repeatable)', collect, [])
    .option('--data <json>', 'the changes as a JSON object')
    .addOption(
      new Option('--wallet-status <status>', 'the new wallet status').choices([
        'Active',
        'Blocked',
        'Suspicious',
      ]),
    )
    .option('--reason <text>', 'why the wallet status changes')
    .option(
      '--if-version <n>',
      'only if the customer is still at this version (409 VERSION_CONFLICT otherwise)',
      positiveInteger,
    )
    .action(
      act(async ({ cc }, command, id: string) => {
        const o = command.opts<{
          set: string[];
          data?: string;
          walletStatus?: string;
          reason?: string;
          ifVersion?: number;
        }>();
        const body = {
          ...jsonOption(o.data, '--data'),
          ...assignments(o.set),
          id,
          ...(o.walletStatus === undefined ? {} : { walletStatus: o.walletStatus }),
          ...(o.reason === undefined ? {} : { walletStatusReason: o.reason }),
        };
        return cc.customers.update(
          body as never,
          o.ifVersion === undefined ? {} : { ifMatch: { id, version: o.ifVersion } },
        );
      }),
    );

  program
    .command('import <file>')
    .description(
      'Create customers from a CSV file (header row of field names) or JSON lines; resumable: run it again after a crash or Ctrl-C',
    )
    .addOption(
      new Option('--format <format>', 'csv or jsonl (default: from the file name)').choices(['csv', 'jsonl']),
    )
    .option('--concurrency <n>', 'requests in flight at once', positiveInteger, 8)
    .option('--rate <n>', "at most this many requests a minute (your key's budget)", positiveInteger)
    .option('--report <file>', 'where rejected rows go (default: FILE.rejected.csv)')
    .option('--restart', 'ignore the checkpoint of an earlier run (still creates nothing twice)')
    .action(
      act(async ({ cc, target }, command, file: string) => {
        const o = command.opts<{
          format?: ImportFormat;
          concurrency: number;
          rate?: number;
          report?: string;
          restart?: boolean;
        }>();
        const format: ImportFormat = o.format ?? (/\.jsonl?$|\.ndjson$/i.test(file) ? 'jsonl' : 'csv');
        const controller = new AbortController();
        const interrupt = () => {
          io.stderr.write(
            '\ninterrupted: finishing the requests in flight; run the same command again to resume\n',
          );
          controller.abort();
        };
        process.once('SIGINT', interrupt);
        try {
          const summary = await importCustomers(cc, {
            file,
            format,
            concurrency: o.concurrency,
            ratePerMinute: o.rate,
            reportFile: o.report ?? `${file}.rejected.csv`,
            restart: o.restart === true,
            target,
            progressStream: io.stderr,
            env: io.env,
            signal: controller.signal,
          });
          const out = output(command);
          if (out.json) printResult(out, summary);
          else {
            out.out(
              `${summary.remaining ? 'Stopped' : 'Imported'} ${file}: ${String(summary.created)} created, ` +
                `${String(summary.alreadyPresent)} already present, ${String(summary.rejected)} rejected` +
                (summary.report === null ? '' : ` (report: ${summary.report})`) +
                `, in ${String(summary.seconds)} s (${String(summary.rowsPerSecond)} rows/s)` +
                (summary.remaining ? '. Run the same command again to resume.' : ''),
            );
          }
          if (summary.remaining) setExit(EXIT.interrupted);
          else if (summary.rejected > 0) setExit(EXIT.rowsRejected);
          return undefined;
        } catch (error) {
          io.stderr.write(
            'The import stopped; its checkpoint is saved: run the same command again to resume.\n',
          );
          throw error;
        } finally {
          process.removeListener('SIGINT', interrupt);
        }
      }),
    );

  program
    .command('export')
    .description('Stream customers out as CSV or JSON lines, newest first')
    .addOption(new Option('--format <format>', 'csv or jsonl').choices(['csv', 'jsonl']).default('csv'))
    .option('--output <file>', 'write to this file (default: standard output)')
    .option('--filter <field=value>', 'as for customer find (repeatable)', collect, [])
    .action(
      act(async ({ cc }, command) => {
        const o = command.opts<{ format: ExportFormat; output?: string; filter: string[] }>();
        const stream = o.output === undefined ? io.stdout : createWriteStream(o.output);
        const count = await exportCustomers(cc, {
          format: o.format,
          filters: assignments(o.filter),
          output: stream,
        });
        if (o.output !== undefined) {
          await new Promise<void>((resolve) => stream.end(resolve));
          const out = output(command);
          if (out.json) printResult(out, { exported: count, file: o.output });
          else io.stderr.write(`exported ${String(count)} customers to ${o.output}\n`);
        }
        return undefined;
      }),
    );

  program
    .command('keys')
    .description('Encryption keys of the service installed here (docs/operations.md, "Encryption keys")')
    .command('rotate')
    .description(
      "Re-wrap every data key under the current ENCRYPTION_KEY, in batches, with the service's own configuration (as npm run keys:rotate)",
    )
    .option('--batch-size <n>', 'customers per transaction (1-10000, default 500)', positiveInteger)
    .action(async (options: { batchSize?: number }) => {
      const { keysRotate } = await import('../../../scripts/keys-rotate.js');
      const code = await keysRotate(
        options.batchSize === undefined ? [] : ['--batch-size', String(options.batchSize)],
        'customercore keys rotate',
      );
      if (code !== 0) setExit(code);
    });

  program
    .command('migrate')
    .description(
      'Apply the database migrations of the service installed here (DATABASE_URL, or the embedded database in DATA_DIR)',
    )
    .action(async (_options: unknown, command: Command) => {
      const out = output(command);
      try {
        const { migrateFromEnvironment } = await import('./migrate.js');
        printResult(out, await migrateFromEnvironment(io.env));
      } catch (error) {
        setExit(printError(out, error));
      }
    });

  return program;
}

/** Runs the command line; resolves to the exit code. */
export async function main(
  argv: string[],
  io: Io = { env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin },
): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (exit) => {
    code = exit;
  });
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; anything else is a usage error.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw error;
  }
  return code;
}

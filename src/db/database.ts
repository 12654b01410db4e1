// One Database type over the two engines. Both speak PostgreSQL, so migrations and queries are the
// same; only connection handling differs. Repositories take a `Queryable`, so a caller can hand them
// either the database or an open transaction and own the transaction itself.
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import pg from 'pg';
import { DatabaseUnavailableError, rethrowClassified } from './database-errors.js';

export type Row = Record<string, unknown>;

/** The one row a statement such as INSERT ... RETURNING must produce. */
export function one<R>(rows: R[]): R {
  const row = rows[0];
  if (row === undefined) throw new Error('The statement returned no row');
  return row;
}

export interface Queryable {
  /** Runs one parameterised statement and returns its rows. */
  query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

// The statements that run on every request. PostgreSQL parses and plans a statement anew each
// time it arrives unnamed; a named (prepared) one is parsed and planned once per connection,
// which more than halves the server's work for a one-row lookup. Only fixed texts are prepared:
// statements assembled per request (a find's filters, an update's columns) have too many forms
// to keep on every connection. The table is filled as the repositories' modules load.
const preparedNames = new Map<string, string>();

/**
 * Declares `text` a prepared statement named `name`, and returns the text; queries of that exact
 * text then run prepared on PostgreSQL (PGlite ignores it).
 */
export function prepared(name: string, text: string): string {
  const known = preparedNames.get(text);
  if (known !== undefined && known !== name) throw new Error(`Statement already prepared as ${known}`);
  if (known === undefined && [...preparedNames.values()].includes(name)) {
    throw new Error(`Two statements prepared as ${name}`);
  }
  preparedNames.set(text, name);
  return text;
}

/** The name `sql` is prepared under, if it was declared with prepared(). */
export const preparedName = (sql: string): string | undefined => preparedNames.get(sql);

/** A pg query: named when the statement was declared prepared (and preparing is on). */
function pgQuery(sql: string, params: readonly unknown[], prepare = true): pg.QueryConfig {
  const name = prepare ? preparedNames.get(sql) : undefined;
  return name === undefined
    ? { text: sql, values: params as unknown[] }
    : { name, text: sql, values: params as unknown[] };
}

export interface Transaction extends Queryable {
  /** Runs several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface NotificationHandlers {
  /** A NOTIFY on the channel was committed. */
  onNotify(payload: string): void;
  /**
   * Whether notifications are being received. While false, and until the next true, some may be
   * missed: the listener must not rely on having heard of every change.
   */
  onListening(listening: boolean, error?: Error): void;
}

export interface Subscription {
  close(): Promise<void>;
}

/** A connection pool's state, for metrics. */
export interface PoolStats {
  /** Connections open, idle among them, and the pool's size. */
  readonly total: number;
  readonly idle: number;
  readonly max: number;
  /** Queries and transactions waiting for a connection right now. */
  readonly waiting: number;
}

export interface Database extends Queryable {
  readonly engine: 'pglite' | 'postgres';
  /** The pool's state (PostgreSQL only: the embedded database has one connection and no pool). */
  poolStats?(): PoolStats;
  /** Runs `work` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  /** LISTENs on `channel` (a lower-case SQL identifier) until the subscription is closed. */
  listen(channel: string, handlers: NotificationHandlers): Promise<Subscription>;
  /**
   * Says, after a commit, that something changed on `channel`: this process's listeners hear it
   * at once, other processes through a NOTIFY sent on its own, outside the writing transaction,
   * at most once per SIGNAL_INTERVAL_MS (a NOTIFY inside each writing transaction would queue
   * every one of their commits behind PostgreSQL's notification lock). A hint, never a guarantee:
   * a process killed before it is sent tells no one, so listeners also poll.
   */
  signal(channel: string): void;
  close(): Promise<void>;
}

/** Signals to other processes go at most this often per channel (they batch what came between). */
export const SIGNAL_INTERVAL_MS = 20;

/** This process's listeners by channel, which signal() reaches without the database. */
function localListeners() {
  const byChannel = new Map<string, Set<NotificationHandlers>>();
  return {
    add(channel: string, handlers: NotificationHandlers): () => void {
      const set = byChannel.get(channel) ?? new Set();
      byChannel.set(channel, set.add(handlers));
      return () => set.delete(handlers);
    },
    tell(channel: string): void {
      for (const handlers of byChannel.get(channel) ?? []) handlers.onNotify('');
    },
  };
}

/** Embedded Postgres in WASM. One connection, so transactions are naturally serialised. */
export async function openPglite(dataDir: string | undefined): Promise<Database> {
  // PGlite can only create the extensions it was given here; the migrations need pg_trgm (0009).
  const db = await PGlite.create(dataDir ?? 'memory://', { extensions: { pg_trgm } });
  // No other process can open this database: a signal has only this process to reach.
  const local = localListeners();
  return {
    engine: 'pglite',
    async query<R extends Row>(sql: string, params: readonly unknown[] = []) {
      const result = await db.query<R>(sql, params as unknown[]).catch(rethrowClassified);
      return result.rows;
    },
    async transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T> {
      // Errors thrown by `work` (business rules, already-classified SQL errors) pass through as
      // they are; only failures of the transaction machinery itself are classified here.
      const outcome = await db
        .transaction(async (tx) => {
          try {
            return { value: await work(pgliteTransaction(tx)) };
          } catch (error) {
            throw new WorkFailed(error);
          }
        })
        .catch((error: unknown) => (error instanceof WorkFailed ? error : rethrowClassified(error)));
      if (outcome instanceof WorkFailed) throw outcome.error;
      return outcome.value;
    },
    async listen(channel, handlers) {
      // One in-process connection: a notification is handled as the statement that committed it
      // returns, before its caller goes on, and none can be missed.
      const unlisten = await db.listen(channel, (payload) => {
        handlers.onNotify(payload);
      });
      const forget = local.add(channel, handlers);
      handlers.onListening(true);
      return {
        close: async () => {
          forget();
          handlers.onListening(false);
          if (!db.closed) await unlisten();
        },
      };
    },
    signal: (channel) => {
      local.tell(channel);
    },
    close: () => db.close(),
  };
}

class WorkFailed extends Error {
  constructor(readonly error: unknown) {
    super('transaction work failed');
  }
}

function pgliteTransaction(tx: Parameters<Parameters<PGlite['transaction']>[0]>[0]): Transaction {
  return {
    query: async <R extends Row>(sql: string, params: readonly unknown[] = []) =>
      (await tx.query<R>(sql, params as unknown[]).catch(rethrowClassified)).rows,
    exec: async (sql) => {
      await tx.exec(sql).catch(rethrowClassified);
    },
  };
}

export interface PostgresOptions {
  connectionString: string;
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  /** Optional search_path, used by the tests to give each run its own schema. */
  schema?: string;
  onPoolError?: (error: Error) => void;
  /** Told how long each query or transaction waited for a pooled connection (for metrics). */
  onCheckout?: (waitSeconds: number) => void;
  /**
   * Whether the statements declared with prepared() are prepared on each connection (default
   * true). A pooler that hands a client's statements to any server connection (PgBouncer before
   * 1.21 in transaction mode) keeps no prepared statement from one transaction to the next: turn
   * it off there (DATABASE_PREPARED_STATEMENTS=false).
   */
  preparedStatements?: boolean;
  /**
   * Where the LISTEN connection goes (default: connectionString). A transaction-mode pooler
   * cannot carry LISTEN, which needs a session of its own: point this at the server itself
   * (DATABASE_LISTEN_URL).
   */
  listenConnectionString?: string | undefined;
}

/** A PostgreSQL server through a connection pool. */
export function openPostgres(options: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize,
    // Fail fast when the server is unreachable instead of queueing requests behind a dead socket.
    connectionTimeoutMillis: options.connectTimeoutMs,
    // The server cancels a statement that runs too long; the client gives up a little later in
    // case the server itself stopped answering.
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + 1000,
    // A transaction whose client vanished (a crash, or a network that dropped the connection
    // without a reset) would otherwise keep its row locks until the server's TCP keepalive
    // notices, hours later; the service never pauses that long inside a transaction.
    idle_in_transaction_session_timeout: options.statementTimeoutMs,
    keepAlive: true,
    idleTimeoutMillis: 30_000,
    // No JIT compilation: it pays off for long analytical queries, never for the service's
    // millisecond statements, and it starts on the planner's cost estimate alone. A list merged
    // across institutions whose institutions table has no statistics yet looked a thousand times
    // dearer than it is, and spent 80 ms compiling a 14 ms query.
    options: [
      '-c jit=off',
      ...(options.schema === undefined ? [] : [`-c search_path=${options.schema}`]),
    ].join(' '),
  });
  // An idle client whose server went away emits 'error' on the pool; without a listener that
  // would crash the process. The next checkout simply gets a fresh connection.
  pool.on('error', (error) => options.onPoolError?.(error));
  const prepare = options.preparedStatements ?? true;
  const listenerConfig: pg.ClientConfig = {
    connectionString: options.listenConnectionString ?? options.connectionString,
    connectionTimeoutMillis: options.connectTimeoutMs,
    query_timeout: options.connectTimeoutMs,
    keepAlive: true,
    // So that an operator can tell it apart in pg_stat_activity, and whose it is.
    application_name: `customercore-listener-${process.pid}`,
  };

  const local = localListeners();
  const signalling = new Set<string>();

  const onCheckout = options.onCheckout;
  /** pool.connect(), timed when someone is told. */
  const checkout = async (): Promise<pg.PoolClient> => {
    if (onCheckout === undefined) return pool.connect();
    const started = performance.now();
    const client = await pool.connect();
    onCheckout((performance.now() - started) / 1000);
    return client;
  };

  return {
    engine: 'postgres',
    poolStats: () => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      max: options.poolSize,
      waiting: pool.waitingCount,
    }),
    async query<R extends Row>(sql: string, params: readonly unknown[] = []) {
      if (onCheckout === undefined) {
        const result = await pool.query<R>(pgQuery(sql, params, prepare)).catch(rethrowClassified);
        return result.rows;
      }
      // What pool.query() does, with the checkout timed: a client whose query failed is released
      // with the error (the pool then discards it), as pool.query() releases it.
      const client = await checkout().catch(rethrowClassified);
      let failure: Error | undefined;
      const onConnectionError = (error: Error) => {
        failure = error;
      };
      client.on('error', onConnectionError);
      try {
        return (await client.query<R>(pgQuery(sql, params, prepare))).rows;
      } catch (error) {
        failure ??= error instanceof Error ? error : new Error(String(error));
        return rethrowClassified(error);
      } finally {
        client.removeListener('error', onConnectionError);
        client.release(failure);
      }
    },
    async transaction(work) {
      const client = await checkout().catch(rethrowClassified);
      let broken: Error | undefined;
      // A checked-out client whose connection dies emits 'error', which would crash the process
      // without a listener; the failure also reaches the pending query, or the next one.
      const onConnectionError = (error: Error) => {
        broken = error;
      };
      client.on('error', onConnectionError);
      const run = async (sql: string, params?: unknown[]) =>
        client.query(sql, params).catch(rethrowClassified);
      try {
        await run('BEGIN');
        const result = await work({
          query: async <R extends Row>(sql: string, params: readonly unknown[] = []) =>
            (await client.query<R>(pgQuery(sql, params, prepare)).catch(rethrowClassified)).rows,
          exec: async (sql) => {
            await run(sql);
          },
        });
        await run('COMMIT');
        return result;
      } catch (error) {
        if (error instanceof DatabaseUnavailableError) {
          // The connection may be dead or silent: a ROLLBACK would wait out the query timeout a
          // second time. Closing the connection makes the server roll back instead.
          broken = error;
        } else if (broken === undefined) {
          try {
            await client.query('ROLLBACK');
          } catch (rollbackError) {
            // The connection is unusable; destroy it rather than return it to the pool.
            broken = rollbackError as Error;
          }
        }
        throw error;
      } finally {
        client.removeListener('error', onConnectionError);
        client.release(broken);
      }
    },
    async listen(channel, handlers) {
      const subscription = await listenPostgres(listenerConfig, channel, handlers);
      const forget = local.add(channel, handlers);
      return {
        close: async () => {
          forget();
          await subscription.close();
        },
      };
    },
    signal(channel) {
      local.tell(channel);
      if (signalling.has(channel)) return;
      signalling.add(channel);
      setTimeout(() => {
        signalling.delete(channel);
        // Lost if the database is down or the pool closing: the other processes' polls find it.
        pool.query('SELECT pg_notify($1, $2)', [channel, '']).catch(() => undefined);
      }, SIGNAL_INTERVAL_MS).unref();
    },
    close: () => pool.end(),
  };
}

/** How often a listening connection proves it is alive, and the bounds of its reconnect backoff. */
const LISTENER_HEARTBEAT_MS = 5000;
const LISTENER_RETRY_MIN_MS = 250;
const LISTENER_RETRY_MAX_MS = 10_000;

/**
 * LISTEN on a connection of its own, outside the pool (a pooled connection is shared and
 * recycled). A connection that fails, ends, or stops answering the heartbeat is reported as not
 * listening and replaced, with backoff, for as long as the subscription is open; a network that
 * silently drops packets is therefore noticed within a heartbeat and its timeout.
 */
async function listenPostgres(
  config: pg.ClientConfig,
  channel: string,
  handlers: NotificationHandlers,
): Promise<Subscription> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`Not a channel name: ${channel}`);
  let current: pg.Client | undefined;
  let closed = false;
  let retryMs = LISTENER_RETRY_MIN_MS;
  let retryTimer: NodeJS.Timeout | undefined;

  const lose = (client: pg.Client, error: Error) => {
    if (client !== current) return;
    current = undefined;
    handlers.onListening(false, error);
    client.end().catch(() => undefined);
    if (!closed) scheduleRetry();
  };
  const scheduleRetry = () => {
    retryTimer = setTimeout(() => void connect(), retryMs);
    retryTimer.unref();
    retryMs = Math.min(retryMs * 2, LISTENER_RETRY_MAX_MS);
  };
  const connect = async () => {
    const client = new pg.Client(config);
    // Until LISTEN succeeds, failures are the catch below's; afterwards, lose()'s.
    client.on('error', (error) => {
      lose(client, error);
    });
    client.on('end', () => {
      lose(client, new Error('The listening connection ended'));
    });
    client.on('notification', (message) => {
      if (client === current && message.channel === channel) handlers.onNotify(message.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch {
      client.end().catch(() => undefined);
      if (!closed) scheduleRetry();
      return;
    }
    if (closed) {
      await client.end().catch(() => undefined);
      return;
    }
    current = client;
    retryMs = LISTENER_RETRY_MIN_MS;
    handlers.onListening(true);
  };

  const heartbeat = setInterval(() => {
    const client = current;
    client?.query('SELECT 1').catch((error: unknown) => {
      lose(client, error instanceof Error ? error : new Error(String(error)));
    });
  }, LISTENER_HEARTBEAT_MS);
  heartbeat.unref();

  await connect();
  return {
    close: async () => {
      closed = true;
      clearInterval(heartbeat);
      clearTimeout(retryTimer);
      const client = current;
      current = undefined;
      if (client !== undefined) {
        handlers.onListening(false);
        await client.end().catch(() => undefined);
      }
    },
  };
}

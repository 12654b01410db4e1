// How a failed database call is classified. A server-reported SQL error (it has a SQLSTATE) is the
// caller's business, except the states that mean "the server is going away or overloaded". Anything
// else the driver throws (refused or reset sockets, connect and read timeouts, a closed PGlite)
// means the database could not be reached.

/** The database could not be reached or stopped answering; the request must change nothing. */
export class DatabaseUnavailableError extends Error {
  constructor(cause: unknown) {
    super('Database unavailable', { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

export interface SqlError extends Error {
  code: string;
  severity: string;
  constraint?: string;
}

export function isSqlError(error: unknown): error is SqlError {
  return (
    error instanceof Error &&
    typeof (error as Partial<SqlError>).severity === 'string' &&
    typeof (error as Partial<SqlError>).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((error as SqlError).code)
  );
}

const unavailableStates = new Set([
  '57014', // query_canceled: statement_timeout fired
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, recovery)
  '53300', // too_many_connections
  '08000', // connection_exception
  '08003', // connection_does_not_exist
  '08006', // connection_failure
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
]);

export function classifyDatabaseError(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError) return error;
  if (isSqlError(error))
    return unavailableStates.has(error.code) ? new DatabaseUnavailableError(error) : error;
  return new DatabaseUnavailableError(error);
}

export function rethrowClassified(error: unknown): never {
  throw classifyDatabaseError(error);
}

// The first operator account. With OPERATOR_EMAIL and OPERATOR_PASSWORD set, that operator is
// created unless it exists (an existing account is never changed). With the embedded database
// and neither set, the first start creates an operator with a random password and writes the
// credentials to a file only the owner can read; the password itself never reaches the logs.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { Database } from '../../db/database.js';
import { generatePassword, hashPassword } from '../auth/passwords.js';
import { countOperators, insertOperatorIfAbsent } from './users.repository.js';

export const GENERATED_OPERATOR_EMAIL = 'operator@customercore.local';
export const OPERATOR_CREDENTIALS_FILE = 'operator-credentials.txt';

export async function bootstrapOperator(
  db: Database,
  config: Pick<Config, 'operatorEmail' | 'operatorPassword' | 'databaseUrl' | 'dataDir'>,
  logger: Logger,
): Promise<void> {
  if (config.operatorEmail !== undefined && config.operatorPassword !== undefined) {
    const created = await insertOperatorIfAbsent(db, {
      email: config.operatorEmail,
      passwordHash: await hashPassword(config.operatorPassword),
    });
    if (created) logger.info('created the operator account named by OPERATOR_EMAIL');
    return;
  }
  if (config.databaseUrl !== undefined || (await countOperators(db)) > 0) return;

  const password = generatePassword();
  const created = await insertOperatorIfAbsent(db, {
    email: GENERATED_OPERATOR_EMAIL,
    passwordHash: await hashPassword(password),
  });
  if (!created) return;
  const file = path.join(config.dataDir, OPERATOR_CREDENTIALS_FILE);
  writeFileSync(
    file,
    `# CustomerCore operator account, created on first start.\n` +
      `# Log in with POST /v2/auth/login (no merchant_id header), then delete this file.\n` +
      `email=${GENERATED_OPERATOR_EMAIL}\npassword=${password}\n`,
    { mode: 0o600 },
  );
  logger.warn({ file }, 'created an operator account; its credentials are in this file (owner-only)');
}

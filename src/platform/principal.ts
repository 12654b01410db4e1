// Who is calling, once credentials are checked, and what they may do.

export type InstitutionRole = 'Owner' | 'Admin' | 'Viewer';
export type Scope = 'customers:read' | 'customers:write' | 'customers:erase' | 'webhooks:manage';
export const allScopes: readonly Scope[] = [
  'customers:read',
  'customers:write',
  'customers:erase',
  'webhooks:manage',
];
/** The scopes a new API key gets when none are asked for: customers:erase and webhooks:manage must be asked for. */
export const defaultScopes: readonly Scope[] = ['customers:read', 'customers:write'];

/**
 * What a route requires. `public` routes take no credentials; `session` routes take any user's or
 * operator's access token (not an API key).
 */
export type Permission =
  | Scope
  | 'webhooks:read'
  | 'events:read'
  | 'api-keys:manage'
  | 'users:manage'
  | 'operator'
  | 'session'
  | 'public';

export type Principal =
  | { kind: 'operator'; userId: string; email: string; sessionId: string }
  | {
      kind: 'user';
      userId: string;
      email: string;
      role: InstitutionRole;
      institutionId: string;
      sessionId: string;
    }
  | { kind: 'api_key'; apiKeyId: string; name: string; institutionId: string; scopes: readonly Scope[] };

export type InstitutionPrincipal = Exclude<Principal, { kind: 'operator' }>;

// webhooks:read (endpoint find, deliveries) and events:read (event find) are what a Viewer may see
// of webhooks; webhooks:manage is everything else about them.
const rolePermissions: Readonly<Record<InstitutionRole, readonly Permission[]>> = {
  Owner: [
    'customers:read',
    'customers:write',
    'customers:erase',
    'webhooks:manage',
    'webhooks:read',
    'events:read',
    'api-keys:manage',
    'users:manage',
  ],
  Admin: [
    'customers:read',
    'customers:write',
    'customers:erase',
    'webhooks:manage',
    'webhooks:read',
    'events:read',
    'api-keys:manage',
  ],
  Viewer: ['customers:read', 'webhooks:read', 'events:read'],
};

/** The key scopes that grant a permission beyond the scope of the same name. */
const scopesGranting: Partial<Record<Permission, readonly Scope[]>> = {
  'webhooks:read': ['webhooks:manage'],
  'events:read': ['webhooks:manage', 'customers:read'],
};

export function isAllowed(principal: Principal, permission: Permission): boolean {
  if (permission === 'public') return true;
  if (permission === 'session') return principal.kind !== 'api_key';
  switch (principal.kind) {
    case 'operator':
      return permission === 'operator';
    case 'user':
      return rolePermissions[principal.role].includes(permission);
    case 'api_key':
      // An API key can never manage API keys, whatever its scopes.
      return (
        (principal.scopes as readonly Permission[]).includes(permission) ||
        (scopesGranting[permission] ?? []).some((scope) => principal.scopes.includes(scope))
      );
  }
}

/** Who made a change, as recorded with it: `name` is the user's or operator's email, or the API key's name. */
export interface Actor {
  type: 'user' | 'api_key' | 'operator';
  id: string;
  name: string;
}

export function actorOf(principal: Principal): Actor {
  switch (principal.kind) {
    case 'operator':
      return { type: 'operator', id: principal.userId, name: principal.email };
    case 'user':
      return { type: 'user', id: principal.userId, name: principal.email };
    case 'api_key':
      return { type: 'api_key', id: principal.apiKeyId, name: principal.name };
  }
}

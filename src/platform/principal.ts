// Who is calling, once credentials are checked, and what they may do.

export type InstitutionRole = 'Owner' | 'Admin' | 'Viewer';
export type Scope = 'customers:read' | 'customers:write';
export const allScopes: readonly Scope[] = ['customers:read', 'customers:write'];

/**
 * What a route requires. `public` routes take no credentials; `session` routes take any user's or
 * operator's access token (not an API key).
 */
export type Permission = Scope | 'api-keys:manage' | 'users:manage' | 'operator' | 'session' | 'public';

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

const rolePermissions: Readonly<Record<InstitutionRole, readonly Permission[]>> = {
  Owner: ['customers:read', 'customers:write', 'api-keys:manage', 'users:manage'],
  Admin: ['customers:read', 'customers:write', 'api-keys:manage'],
  Viewer: ['customers:read'],
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
      return (principal.scopes as readonly Permission[]).includes(permission);
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

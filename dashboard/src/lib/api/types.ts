/**
 * The shapes of the worker's API as the dashboard reads them. The stats answers come from the
 * shared catalog (`@tally/sdk/catalog`), as the worker's do; the management shapes mirror the
 * worker's zod schemas (and `GET /api/openapi.json`) for the fields the dashboard uses.
 */
import type { MetricName } from '../format.ts';
import type { Filter } from '../state/url-state.ts';

export type Role = 'owner' | 'admin' | 'viewer';

export interface User {
  id: string;
  email: string;
  name: string | null;
  createdAt: number;
}

export interface Me {
  user: User;
  projects: { id: string; name: string; siteKey: string; role: Role }[];
}

export interface Hostname {
  hostname: string;
  includeSubdomains: boolean;
}

export interface Project {
  id: string;
  name: string;
  siteKey: string;
  timezone: string;
  /** When the current timezone took (or takes) effect; null if it never changed. */
  timezoneFrom: number | null;
  retentionDays: number;
  publicLive: boolean;
  /** ISO 4217 code the revenue metric reports in. */
  currency: string;
  hostnames: Hostname[];
  role: Role | null;
  createdAt: number;
  updatedAt: number;
}

export type ProjectUpdate = Partial<
  Pick<Project, 'name' | 'timezone' | 'retentionDays' | 'publicLive' | 'hostnames' | 'currency'>
>;

/** What a goal or a funnel step matches. */
export type GoalStep =
  | { kind: 'pageview'; path: string }
  | { kind: 'event'; eventName: string; propertyKey?: string; propertyValue?: string };

export type Goal = GoalStep & { id: string; name: string; createdAt: number };

export interface Funnel {
  id: string;
  name: string;
  steps: GoalStep[];
  createdAt: number;
}

export interface Member {
  userId: string;
  email: string;
  name: string | null;
  role: Role;
  createdAt: number;
}

export type ApiKeyScope = 'ingest' | 'read' | 'admin';

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiKeyScope[];
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  usageCount: number;
  rateLimit: number;
  status: 'active' | 'revoked' | 'expired';
}

/** A key as created or rotated: the only time its secret is shown. */
export type CreatedApiKey = ApiKey & { key: string };

export interface ShareLink {
  id: string;
  name: string;
  slug: string;
  path: string;
  hasPassword: boolean;
  /** Origins whose pages may frame the link's view (`?embed=1`). */
  embedOrigins: string[];
  createdAt: number;
  revokedAt: number | null;
}

/** A saved segment: a named set of filters, shared with the project's members. */
export interface Segment {
  id: string;
  name: string;
  filters: Filter[];
  createdBy: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface SharedProject {
  project: { id: string; name: string; timezone: string };
  passwordRequired: boolean;
}

/** `POST /api/v1/query` (docs/STATS.md). */
export interface QueryRequest {
  project: string;
  metrics: MetricName[];
  date_range: string | [string, string];
  dimensions?: string[];
  filters?: Filter[];
  order_by?: [string, 'asc' | 'desc'][];
  limit?: number;
  page?: number;
  include?: { compare?: 'previous_period' | 'year_over_year'; time_labels?: boolean; totals?: boolean };
}

export type { QueryResponse, QueryResult } from '@tally/sdk/catalog';

export interface FunnelResponse {
  steps: { name: string; visits: number; conversion_rate: number; drop_off: number }[];
}

export type DropReason = 'bot' | 'spam' | 'invalid_host' | 'rate_limited';

export interface DropsResponse {
  totals: Record<DropReason, number>;
  days: { day: string; counts: Record<DropReason, number> }[];
}

/** A message of the live WebSocket (`GET /api/projects/:id/live`). */
export interface LiveMessage {
  type: 'snapshot' | 'update';
  visitors: number;
  pages: { path: string; visitors: number }[];
  countries: { country: string | null; visitors: number }[];
  recent: { ts: number; name: string; path: string; country: string | null; source: string | null }[];
}

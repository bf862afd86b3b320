// Type declarations for the parts of `dormroom` the wallet uses. dormroom ships raw
// TypeScript that does not compile under --strict (and skipLibCheck does not cover .ts
// sources), so tsconfig.json maps the module name here; the bundler still uses the package.

declare module "dormroom" {
  import { DurableObject } from "cloudflare:workers";

  export interface RawResult {
    columnNames: string[];
    rowsRead: number;
    rowsWritten: number;
    raw: SqlStorageValue[][];
  }

  export interface ExecResult {
    columnNames: string[];
    rowsRead: number;
    rowsWritten: number;
    array: Record<string, SqlStorageValue>[];
    one: Record<string, SqlStorageValue>;
  }

  /** A Durable Object whose SQLite database can be queried over RPC (exec, raw, getSchema). */
  export class QueryableObject<TEnv = unknown> extends DurableObject<TEnv> {
    sql: SqlStorage | undefined;
    getSchema(): string;
    raw(query: string, ...bindings: unknown[]): RawResult;
    exec(query: string, ...bindings: unknown[]): ExecResult;
  }

  /** Applies pending migrations; returns an error message, or null on success. */
  export function runMigrations(execFn: SqlStorage["exec"], migrations: Record<string, string[]>): string | null;

  export interface StudioOptions {
    dangerouslyDisableAuth?: boolean;
    basicAuth?: { username: string; password: string };
  }

  /** Outerbase studio page (GET) and query API (POST) over a raw-query function. */
  export function studioMiddleware(
    request: Request,
    rawRpcFunction: (query: string, ...bindings: unknown[]) => Promise<RawResult>,
    options?: StudioOptions,
  ): Promise<Response>;
}

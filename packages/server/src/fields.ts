import { invalidParam } from './openai-errors.js';

/** A parsed JSON request body. */
export type Body = Readonly<Record<string, unknown>>;

/** The request body as an object, or a 400. */
export function requireObject(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidParam(null, `the request body must be a JSON object, got ${describe(body)}`);
  }
  return body as Body;
}

/** How a value looks in an error message: its JSON type, and the value itself when short. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  const type = Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
  const text = JSON.stringify(value);
  return text.length <= 40 ? `${type} (${text})` : type;
}

/*
 * Typed readers of one optional field: absent or null gives undefined (clients send null for
 * "default"); a value of the wrong type is a 400 that names the field. Ranges are the engine's to
 * check (see params.ts), so each rule lives in one place.
 */

export function optionalNumber(body: Body, name: string): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidParam(name, `${name} must be a number, got ${describe(value)}`);
  return value;
}

export function optionalInteger(body: Body, name: string): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw invalidParam(name, `${name} must be an integer, got ${describe(value)}`);
  return value;
}

export function optionalBoolean(body: Body, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalidParam(name, `${name} must be true or false, got ${describe(value)}`);
  return value;
}

export function optionalString(body: Body, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidParam(name, `${name} must be a string, got ${describe(value)}`);
  return value;
}

/** Fields the server does not implement: rejected when set, rather than silently ignored. */
export function rejectUnsupported(body: Body, names: readonly string[]): void {
  for (const name of names) {
    if (body[name] !== undefined && body[name] !== null) throw invalidParam(name, `${name} is not supported by this server`);
  }
}

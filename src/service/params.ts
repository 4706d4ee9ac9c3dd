/**
 * Reading a control request's params: each accessor checks presence and
 * type and throws InvalidParamsError naming the param, so a method body
 * only ever sees values of the type it asked for.
 */
import { InvalidParamsError } from './errors';

/** Longest string param accepted (the request line is bounded anyway; this keeps values sane). */
const MAX_STRING = 65_536;

export class Params {
  constructor(readonly raw: Readonly<Record<string, unknown>>) {}

  /** A required string, non-empty. */
  string(name: string): string {
    const v = this.optionalString(name);
    if (v === undefined || v === '') throw new InvalidParamsError(`"${name}" is required`);
    return v;
  }

  optionalString(name: string): string | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new InvalidParamsError(`"${name}" must be a string`);
    if (v.length > MAX_STRING) throw new InvalidParamsError(`"${name}" is longer than ${MAX_STRING} characters`);
    return v;
  }

  boolean(name: string, fallback: boolean): boolean {
    const v = this.raw[name];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw new InvalidParamsError(`"${name}" must be true or false`);
    return v;
  }

  /** An optional number in (0, max]; a numeric string (as a command line gives it) is read as its number. */
  optionalPositive(name: string, max: number): number | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n) || n <= 0 || n > max) throw new InvalidParamsError(`"${name}" must be a number above 0 and at most ${max}`);
    return n;
  }

  /** An optional list of strings (null/absent: undefined). */
  optionalStrings(name: string): string[] | undefined {
    const v = this.raw[name];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.length > 1000 || !v.every((x) => typeof x === 'string' && x.length <= MAX_STRING)) {
      throw new InvalidParamsError(`"${name}" must be a list of strings`);
    }
    return v as string[];
  }
}

/**
 * The control methods' shape and the one place they are invoked, by the
 * control server for socket requests and in-process by a one-shot CLI
 * command, so both give the same answers and the same errors.
 *
 * A method takes checked params (see Params) and returns plain JSON data
 * (strings for ids and keys, numbers, booleans, arrays, objects). To add
 * methods, write a table (see methods/) and list it in methods/index.ts.
 */
import { PROTOCOL_ERROR, type ErrorBody } from './control-protocol';
import { errorCode, errorMessage } from './errors';
import { Params } from './params';

/** The client side of one control connection, as a method sees it. */
export interface ControlConnection {
  /** Pushes these events (null: every event) to this connection from now on. */
  subscribe(events: readonly string[] | null): void;
  unsubscribe(): void;
}

export interface MethodContext {
  /** The connection the request came on; null when called in-process (no service running). */
  readonly connection: ControlConnection | null;
}

export type ControlMethod = (params: Params, ctx: MethodContext) => unknown;
export type MethodTable = Readonly<Record<string, ControlMethod>>;

export type MethodOutcome = { result: unknown } | { error: ErrorBody };

/** Runs `method` from `table`; never throws: failures become an error body with a stable code. */
export async function invokeMethod(table: MethodTable, method: string, params: Record<string, unknown>, ctx: MethodContext): Promise<MethodOutcome> {
  if (!Object.prototype.hasOwnProperty.call(table, method)) {
    return { error: { code: PROTOCOL_ERROR.unknownMethod, message: `Unknown method "${method.slice(0, 100)}"` } };
  }
  try {
    const result = await table[method](new Params(params), ctx);
    // Round-tripped through JSON so an in-process call returns exactly what a socket client would read.
    return { result: result === undefined ? null : (JSON.parse(JSON.stringify(result)) as unknown) };
  } catch (e) {
    return { error: { code: errorCode(e), message: errorMessage(e) } };
  }
}

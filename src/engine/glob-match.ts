/**
 * Glob matching without backtracking blow-ups, for ignore files and exclude
 * patterns (gitignore.ts and excludes.ts parse their own grammars into
 * these tokens).
 *
 * Patterns come from the folders being indexed (a cloned repository's
 * .gitignore) and from settings, so they are input: compiled to regular
 * expressions, `*a*a*a*a*a*a*a*a*a*b` took seconds on a 40-character name
 * and `**\/*a*a*a*a*b` minutes on a deep path. Here a path is matched
 * segment by segment ('/'-separated) with the classic wildcard algorithm at
 * both levels: within a segment, `*` against characters; across segments,
 * `**` against whole segments. Each level backtracks only to its most
 * recent star, so a match costs at most O(path length × pattern length),
 * whatever the pattern.
 *
 * Tokens, as the grammars produce them:
 * - a character (`/` separates segments), `?` (any one character), a
 *   class `[a-z]` / `[!a-z]` (one character in or out of the set), `*`
 *   (any run of characters within a segment): none of them matches `/`;
 * - `**` followed by `/`: zero or more whole segments;
 * - `**` at the end after a `/` (or alone): everything below, i.e. one or
 *   more segments.
 */

export type GlobToken =
  | { kind: 'char'; code: number }
  | { kind: 'any' }
  | { kind: 'set'; negate: boolean; singles: readonly number[]; ranges: readonly number[] }
  | { kind: 'star' }
  /** `**` + `/`: zero or more whole segments (the slash is part of it). */
  | { kind: 'globstar' }
  /** A trailing `**`: the rest of the path, one or more segments. */
  | { kind: 'rest' };

type SegToken = Extract<GlobToken, { kind: 'char' | 'any' | 'set' | 'star' }>;
/** A segment's tokens, and how many characters it needs (exactly that many when it has no `*`). */
type Part = { kind: 'seg'; tokens: readonly SegToken[]; minLength: number; exact: boolean } | { kind: 'globstar' };

const SLASH = 0x2f;

export class Glob {
  private constructor(private readonly parts: readonly Part[]) {}

  static compile(tokens: readonly GlobToken[]): Glob {
    const parts: Part[] = [];
    let seg: SegToken[] | null = [];
    for (const t of tokens) {
      if (t.kind === 'char' && t.code === SLASH) {
        parts.push(segment(seg ?? []));
        seg = [];
      } else if (t.kind === 'globstar') {
        if (seg !== null && seg.length > 0) parts.push(segment(seg)); // not at a segment start: the grammars never do this
        parts.push({ kind: 'globstar' });
        seg = null;
      } else if (t.kind === 'rest') {
        if (seg !== null && seg.length > 0) parts.push(segment(seg));
        parts.push(segment([STAR as SegToken]), { kind: 'globstar' });
        seg = null;
      } else {
        seg ??= [];
        if (t.kind === 'star' && seg.at(-1)?.kind === 'star') continue; // `**` inside a name is one `*`
        seg.push(t);
      }
    }
    if (seg !== null) parts.push(segment(seg));
    return new Glob(collapseGlobstars(parts));
  }

  /** Whether the whole of `path` ('/'-separated, no empty names) matches. */
  test(path: string): boolean {
    const parts = this.parts;
    const n = path.length;
    let p = 0;
    let i = 0; // start of the current segment; n + 1 once every segment is consumed
    let starP = -1;
    let starI = 0;
    while (i <= n) {
      const end = segmentEnd(path, i);
      const part = p < parts.length ? parts[p] : null;
      if (part?.kind === 'seg' && matchSegment(part, path, i, end)) {
        p++;
        i = end + 1;
      } else if (part?.kind === 'globstar') {
        starP = p++;
        starI = i;
      } else if (starP >= 0) {
        // The last `**` takes one more segment; try the parts after it again from there.
        p = starP + 1;
        starI = segmentEnd(path, starI) + 1;
        i = starI;
      } else return false;
    }
    while (p < parts.length && parts[p].kind === 'globstar') p++;
    return p === parts.length;
  }
}

function segment(tokens: SegToken[]): Part {
  const minLength = tokens.filter((t) => t.kind !== 'star').length;
  return { kind: 'seg', tokens, minLength, exact: minLength === tokens.length };
}

/** `**` `**` in a row is one `**` (and keeps the work per segment bounded). */
function collapseGlobstars(parts: Part[]): Part[] {
  return parts.filter((part, k) => !(part.kind === 'globstar' && parts[k - 1]?.kind === 'globstar'));
}

function segmentEnd(path: string, from: number): number {
  const slash = path.indexOf('/', from);
  return slash < 0 ? path.length : slash;
}

/** Whether path[from, to) (no '/' in it) matches the segment's tokens. */
function matchSegment(seg: Extract<Part, { kind: 'seg' }>, path: string, from: number, to: number): boolean {
  const len = to - from;
  if (seg.exact ? len !== seg.minLength : len < seg.minLength) return false;
  const tokens = seg.tokens;
  const m = tokens.length;
  let t = 0;
  let i = from;
  let starT = -1;
  let starI = 0;
  while (i < to) {
    const tok = t < m ? tokens[t] : null;
    if (tok !== null && tok.kind !== 'star' && matchChar(tok, path.charCodeAt(i))) {
      t++;
      i++;
    } else if (tok?.kind === 'star') {
      starT = t++;
      starI = i;
    } else if (starT >= 0) {
      // The last `*` takes one more character.
      t = starT + 1;
      i = ++starI;
    } else return false;
  }
  while (t < m && tokens[t].kind === 'star') t++;
  return t === m;
}

function matchChar(tok: Exclude<SegToken, { kind: 'star' }>, code: number): boolean {
  if (tok.kind === 'char') return tok.code === code;
  if (code === SLASH) return false;
  if (tok.kind === 'any') return true;
  let inSet = tok.singles.includes(code);
  for (let k = 0; !inSet && k < tok.ranges.length; k += 2) inSet = code >= tok.ranges[k] && code <= tok.ranges[k + 1];
  return inSet !== tok.negate;
}

export const CHAR = (ch: string): GlobToken => ({ kind: 'char', code: ch.charCodeAt(0) });
export const ANY: GlobToken = { kind: 'any' };
export const STAR: GlobToken = { kind: 'star' };
export const GLOBSTAR: GlobToken = { kind: 'globstar' };
export const REST: GlobToken = { kind: 'rest' };

/**
 * A bracket expression's body (between `[` and `]`, negation already taken
 * off): single characters and `x-y` ranges, everything else literal (a
 * backslash too). Null if a range runs backwards (`[z-a]`), which matches
 * nothing and made the old regular expression invalid: the pattern is
 * dropped, as before.
 */
export function classToken(body: string, negate: boolean): GlobToken | null {
  const singles: number[] = [];
  const ranges: number[] = [];
  for (let k = 0; k < body.length; k++) {
    const c = body.charCodeAt(k);
    if (body[k + 1] === '-' && k + 2 < body.length) {
      const hi = body.charCodeAt(k + 2);
      if (hi < c) return null;
      ranges.push(c, hi);
      k += 2;
    } else singles.push(c);
  }
  return { kind: 'set', negate, singles, ranges };
}

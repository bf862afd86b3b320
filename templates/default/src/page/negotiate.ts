// Content negotiation for the three faces of the app: a page for people, JSON for
// programs, Markdown for agents ("1:1 JSON API, Markdown API & UI").

export type Format = "json" | "html" | "markdown";

const MEDIA_TYPES: Record<Format, string> = {
  json: "application/json",
  html: "text/html",
  markdown: "text/markdown",
};

// When the client accepts several of ours equally (curl and fetch() send `*/*`),
// JSON wins: it is what a program that did not ask for anything expects.
const SERVER_PREFERENCE: Format[] = ["json", "html", "markdown"];

export const CONTENT_TYPES: Record<Format, string> = {
  json: "application/json; charset=utf-8",
  html: "text/html; charset=utf-8",
  markdown: "text/markdown; charset=utf-8",
};

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
  order: number;
}

/** Parses an Accept header into media ranges; malformed parts are skipped, not fatal. */
export function parseAccept(header: string | null): MediaRange[] {
  if (!header) return [];
  const ranges: MediaRange[] = [];
  header.split(",").forEach((part, order) => {
    const [mediaType, ...params] = part.trim().split(";");
    const [type, subtype] = mediaType.trim().toLowerCase().split("/");
    if (!type || !subtype) return;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.trim().split("=");
      if (key?.trim().toLowerCase() === "q") {
        const parsed = Number(value);
        q = Number.isFinite(parsed) ? Math.min(Math.max(parsed, 0), 1) : 0;
      }
    }
    ranges.push({ type, subtype, q, order });
  });
  return ranges;
}

// How well a range matches a media type: 3 exact, 2 `type/*`, 1 the full wildcard, 0 none.
function specificity(range: MediaRange, mediaType: string): number {
  const [type, subtype] = mediaType.split("/");
  if (range.type === type && range.subtype === subtype) return 3;
  if (range.type === type && range.subtype === "*") return 2;
  if (range.type === "*" && range.subtype === "*") return 1;
  return 0;
}

/**
 * Picks the format to answer in. The most specific range that matches a format sets its
 * quality (RFC 9110 §12.5.1); the highest quality wins, then an explicit mention beats a
 * wildcard, then the client's own order, then our preference. No or unusable Accept: JSON.
 */
export function negotiate(accept: string | null): Format {
  const ranges = parseAccept(accept);
  let best: { format: Format; q: number; specificity: number; order: number } | undefined;
  for (const format of SERVER_PREFERENCE) {
    let match: MediaRange | undefined;
    let matchSpecificity = 0;
    for (const range of ranges) {
      const s = specificity(range, MEDIA_TYPES[format]);
      if (s > matchSpecificity) {
        match = range;
        matchSpecificity = s;
      }
    }
    if (!match || match.q === 0) continue;
    const candidate = { format, q: match.q, specificity: matchSpecificity, order: match.order };
    if (
      !best ||
      candidate.q > best.q ||
      (candidate.q === best.q && candidate.specificity > best.specificity) ||
      (candidate.q === best.q &&
        candidate.specificity === best.specificity &&
        candidate.specificity === 3 &&
        candidate.order < best.order)
    ) {
      best = candidate;
    }
  }
  return best?.format ?? "json";
}

/**
 * Captions typed or pasted as lines of "start end text" (seconds in the source's timeline).
 * Times may be plain seconds ("12.5") or clock times ("1:02.5"); blank lines are skipped.
 */

function parseTime(raw) {
  const parts = raw.split(":");
  if (parts.length > 3 || parts.some((part) => part === "" || Number.isNaN(Number(part)))) {
    return null;
  }
  return parts.reduce((total, part) => total * 60 + Number(part), 0);
}

/** `{captions, errors}`: the parsed lines and, for each bad one, a sentence naming it. */
export function parseCaptions(text) {
  const captions = [];
  const errors = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trim();
    if (!trimmed) return;
    const match = trimmed.match(/^(\S+)\s+(\S+)\s+(.+)$/);
    const start = match ? parseTime(match[1]) : null;
    const end = match ? parseTime(match[2]) : null;
    if (!match || start === null || end === null) {
      errors.push(`Caption line ${index + 1} should read "start end text", e.g. "1.0 2.5 Hello".`);
    } else if (end <= start) {
      errors.push(`Caption line ${index + 1} ends before it starts.`);
    } else {
      captions.push({ start_s: start, end_s: end, text: match[3] });
    }
  });
  return { captions, errors };
}

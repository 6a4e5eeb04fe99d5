/** Small renderers shared by the commands' text output. */

export function age(fromIso: string | undefined, now = Date.now()): string {
  if (!fromIso) return "-";
  return span(now - Date.parse(fromIso));
}

/** "in 3d", "overdue 2h", or "-". */
export function due(dueIso: string | undefined, now = Date.now()): string {
  if (!dueIso) return "-";
  const ms = Date.parse(dueIso) - now;
  return ms >= 0 ? `in ${span(ms)}` : `overdue ${span(-ms)}`;
}

/** A duration in its largest whole unit, rounded to nearest (a 30-day TTL set a second ago is "30d"). */
export function span(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export function list(items: string[]): string {
  return items.length === 0 ? "-" : items.join(",");
}

/**
 * History filters and the selected run live in the URL query, so a filtered
 * view can be bookmarked, shared and survives a reload. Unknown or malformed
 * values are dropped when read.
 */
import { useCallback, useEffect, useState } from 'react';
import { RUN_KINDS, RUN_STATUSES, type HistoryFilters, type RunKind, type RunStatus } from '../api/types.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const FILTER_KEYS = ['status', 'env', 'initiator', 'kind', 'from', 'to'] as const;

export function filtersFromSearch(search: string): HistoryFilters {
  const q = new URLSearchParams(search);
  const f: HistoryFilters = {};
  const status = q.get('status');
  if (status && (RUN_STATUSES as readonly string[]).includes(status)) f.status = status as RunStatus;
  const kind = q.get('kind');
  if (kind && (RUN_KINDS as readonly string[]).includes(kind)) f.kind = kind as RunKind;
  const env = q.get('env')?.trim();
  if (env) f.env = env.slice(0, 64);
  const initiator = q.get('initiator')?.trim();
  if (initiator) f.initiator = initiator.slice(0, 128);
  const from = q.get('from');
  if (from && DATE.test(from)) f.from = from;
  const to = q.get('to');
  if (to && DATE.test(to)) f.to = to;
  return f;
}

/** Writes the filters into `search`, keeping the query's other keys (e.g. run=). */
export function searchWithFilters(search: string, filters: HistoryFilters): string {
  const q = new URLSearchParams(search);
  for (const k of FILTER_KEYS) {
    const v = filters[k];
    if (v) q.set(k, v);
    else q.delete(k);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

function replaceSearch(search: string, push: boolean): void {
  const url = `${location.pathname}${search}${location.hash}`;
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
}

/** [filters, setFilters]: reads from location.search, writes back with pushState, follows Back/Forward. */
export function useUrlFilters(): [HistoryFilters, (f: HistoryFilters) => void] {
  const [filters, setState] = useState<HistoryFilters>(() => filtersFromSearch(location.search));
  useEffect(() => {
    const onPop = () => setState(filtersFromSearch(location.search));
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const set = useCallback((f: HistoryFilters) => {
    replaceSearch(searchWithFilters(location.search, f), true);
    setState(f);
  }, []);
  return [filters, set];
}

/** The run shown in the details/logs panel (?run=<id>). */
export function useUrlRun(): [string | null, (id: string | null) => void] {
  const read = () => new URLSearchParams(location.search).get('run');
  const [run, setState] = useState<string | null>(read);
  useEffect(() => {
    const onPop = () => setState(read());
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);
  const set = useCallback((id: string | null) => {
    const q = new URLSearchParams(location.search);
    if (id) q.set('run', id);
    else q.delete('run');
    const s = q.toString();
    replaceSearch(s ? `?${s}` : '', true);
    setState(id);
  }, []);
  return [run, set];
}

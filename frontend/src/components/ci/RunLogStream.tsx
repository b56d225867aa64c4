/**
 * The live console of one run (SPEC "WS /ci/runs/{id}/logs"): JSON events over
 * a WebSocket that resumes with from=<last seq> after a drop; stage chips
 * updated by `stage` events; a virtual list (fixed-height rows) so 100 000
 * lines scroll smoothly; collapsible per-stage sections; follow-the-tail
 * with pause/resume; search with next/previous.
 */
import { useCallback, useEffect, useId, useMemo, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCiApi } from '../../api/context.js';
import { STAGE_IDS, type RunStatus, type Stage, type StageId, type WsEvent } from '../../api/types.js';
import { useAnnounce } from '../../lib/announce.js';
import { RUN_STATUS_LABEL, STAGE_STATUS_LABEL } from '../../lib/format.js';
import { LogRowIndex, LogStore, findMatches } from '../../lib/logStore.js';
import { LogSocket, type LogSocketState } from '../../lib/logSocket.js';
import { Banner } from './Banner.js';
import { LogText } from './LogLine.js';
import { StageChip, StageChips, stageLabel } from './StageChips.js';

export interface RunLogStreamProps {
  runId: string;
  /** Stages known from GET /ci/runs/{id}; `stage` events update them live. */
  initialStages?: Stage[];
  onStage?: (stage: Stage) => void;
  onStatus?: (status: RunStatus, reason: string | null) => void;
  onEnd?: (status: RunStatus) => void;
  /** Height of the log viewport in px. */
  height?: number;
  /** For tests and non-browser hosts. */
  WebSocketImpl?: typeof WebSocket;
  /** Reconnect delay for attempt n (ms). */
  backoffMs?: (attempt: number) => number;
}

export const LOG_ROW_HEIGHT = 20;
/** Batch renders: a live stream re-renders at most this often; a history replay of many lines less often. */
const FLUSH_MS = 80;
const FLUSH_BURST_MS = 300;
const BURST_LINES = 2_000;

function pendingStages(): Stage[] {
  return STAGE_IDS.map((id) => ({ id, name: stageLabel(id), status: 'pending', started_at: null, finished_at: null, duration_ms: null }));
}

export function RunLogStream({ runId, initialStages, onStage, onStatus, onEnd, height = 420, WebSocketImpl, backoffMs }: RunLogStreamProps) {
  const api = useCiApi();
  const announce = useAnnounce();
  const uid = useId();
  const storeRef = useRef<LogStore>(new LogStore());
  const [version, setVersion] = useState(0);
  const [stages, setStages] = useState<Map<StageId, Stage>>(() => new Map((initialStages?.length ? initialStages : pendingStages()).map((s) => [s.id, s])));
  const [conn, setConn] = useState<{ state: LogSocketState; attempt: number; message?: string }>({ state: 'connecting', attempt: 0 });
  const [endStatus, setEndStatus] = useState<RunStatus | null>(null);
  const [collapsed, setCollapsed] = useState<Set<StageId>>(() => new Set());
  const [follow, setFollow] = useState(true);
  const [query, setQuery] = useState('');
  const [matchPos, setMatchPos] = useState(0);
  const scrollRef = useRef<HTMLDivElement>(null);
  const lastScrollTop = useRef(0);

  const callbacks = useRef({ onStage, onStatus, onEnd, announce });
  callbacks.current = { onStage, onStatus, onEnd, announce };

  // Stages from a fresher GET (the page polls) fill in what no event has said yet.
  useEffect(() => {
    if (!initialStages?.length) return;
    setStages((prev) => {
      const next = new Map(prev);
      for (const s of initialStages) {
        const cur = next.get(s.id);
        if (!cur || cur.status === 'pending' || (s.finished_at && !cur.finished_at)) next.set(s.id, s);
        else if (s.typical_ms !== undefined && cur.typical_ms === undefined) next.set(s.id, { ...cur, typical_ms: s.typical_ms });
      }
      return next;
    });
  }, [initialStages]);

  useEffect(() => {
    storeRef.current = new LogStore();
    setVersion((v) => v + 1);
    setEndStatus(null);
    let flushTimer: ReturnType<typeof setTimeout> | null = null;
    let flushedTotal = 0;
    let pendingSince = 0;
    const scheduleFlush = () => {
      if (flushTimer) return;
      pendingSince = storeRef.current.total;
      flushTimer = setTimeout(function flush() {
        // Still pouring in (history replay)? Wait a little longer, so 100 000 lines cost a few renders, not thousands.
        const burst = storeRef.current.total - pendingSince > BURST_LINES && storeRef.current.total - flushedTotal < 50_000;
        pendingSince = storeRef.current.total;
        if (burst) {
          flushTimer = setTimeout(flush, FLUSH_BURST_MS);
          return;
        }
        flushTimer = null;
        flushedTotal = storeRef.current.total;
        setVersion((v) => v + 1);
      }, FLUSH_MS);
    };
    const onEvent = (ev: WsEvent) => {
      const cb = callbacks.current;
      switch (ev.type) {
        case 'log':
          if (storeRef.current.append(ev)) scheduleFlush();
          break;
        case 'stage':
          setStages((prev) => {
            const before = prev.get(ev.stage.id);
            const next = new Map(prev);
            next.set(ev.stage.id, { ...ev.stage, typical_ms: ev.stage.typical_ms ?? before?.typical_ms });
            return next;
          });
          cb.onStage?.(ev.stage);
          if (ev.stage.status !== 'pending' && ev.stage.status !== 'running')
            cb.announce(`${stageLabel(ev.stage.id)}: ${STAGE_STATUS_LABEL[ev.stage.status]}`);
          break;
        case 'status':
          cb.onStatus?.(ev.status, ev.reason);
          cb.announce(`Run ${RUN_STATUS_LABEL[ev.status].toLowerCase()}${ev.reason ? `: ${ev.reason}` : ''}`);
          break;
        case 'end':
          setEndStatus(ev.status);
          scheduleFlush();
          cb.onEnd?.(ev.status);
          break;
        case 'error':
        case 'ping':
          break;
      }
    };
    const socket = new LogSocket({
      url: (from) => api.logsUrl(runId, from),
      onEvent,
      onState: (state, detail) => setConn({ state, ...detail }),
      WebSocketImpl,
      backoffMs,
      staleAfterMs: 45_000,
    });
    socket.start();
    return () => {
      socket.close();
      if (flushTimer) clearTimeout(flushTimer);
    };
  }, [api, runId, WebSocketImpl, backoffMs]);

  const store = storeRef.current;
  // `version` changes whenever the store has grown; the index is cheap to rebuild (one entry per section).
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const index = useMemo(() => new LogRowIndex(store, collapsed), [store, collapsed, version]);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const matches = useMemo(() => findMatches(store, query), [store, query, version]);

  const virtualizer = useVirtualizer({
    count: index.count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => LOG_ROW_HEIGHT,
    overscan: 12,
    // Scroll updates render in the next frame instead of synchronously: with a fast stream
    // and follow-the-tail, synchronous renders per scroll event are most of the cost.
    useFlushSync: false,
  });

  useEffect(() => {
    if (follow && index.count > 0) virtualizer.scrollToIndex(index.count - 1, { align: 'end' });
  }, [follow, index, virtualizer]);

  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - LOG_ROW_HEIGHT * 2;
    // Scrolling up pauses following; reaching the bottom again resumes it.
    if (el.scrollTop < lastScrollTop.current - 2 && !atBottom) setFollow(false);
    else if (atBottom && !follow && el.scrollTop > lastScrollTop.current) setFollow(true);
    lastScrollTop.current = el.scrollTop;
  };

  const toggleSection = useCallback((stage: StageId) => {
    setCollapsed((prev) => {
      const next = new Set(prev);
      if (next.has(stage)) next.delete(stage);
      else next.add(stage);
      return next;
    });
  }, []);

  const jumpToStage = useCallback(
    (stage: StageId) => {
      const k = store.sections.findIndex((s) => s.stage === stage);
      if (k < 0) return;
      setFollow(false);
      let row = 0;
      for (let i = 0; i < k; i++) row += 1 + (collapsed.has(store.sections[i]!.stage) ? 0 : store.sections[i]!.lines.length);
      virtualizer.scrollToIndex(row, { align: 'start' });
    },
    [store, collapsed, virtualizer],
  );

  const goToMatch = (pos: number) => {
    if (matches.length === 0) return;
    const p = ((pos % matches.length) + matches.length) % matches.length;
    setMatchPos(p);
    const m = matches[p]!;
    setFollow(false);
    if (collapsed.has(m.stage)) {
      const next = new Set(collapsed);
      next.delete(m.stage);
      setCollapsed(next);
      // The index is rebuilt on the next render; scroll after it.
      requestAnimationFrame(() => virtualizer.scrollToIndex(new LogRowIndex(store, next).rowOf(m.stage, m.lineIndex), { align: 'center' }));
    } else virtualizer.scrollToIndex(index.rowOf(m.stage, m.lineIndex), { align: 'center' });
  };

  const orderedStages = useMemo(() => {
    const known = STAGE_IDS.filter((id) => stages.has(id)).map((id) => stages.get(id)!);
    return known;
  }, [stages]);

  const activeMatch = matches[matchPos];
  const items = virtualizer.getVirtualItems();

  return (
    <section className="card log-stream" aria-labelledby={`${uid}-h`} data-testid="run-log-stream">
      <div className="card__header">
        <h2 id={`${uid}-h`} className="card__title">
          Live logs
        </h2>
        <span className={`conn conn--${conn.state}`} data-testid="conn-state">
          {conn.state === 'open' ? 'live' : conn.state === 'connecting' ? 'connecting…' : conn.state === 'reconnecting' ? 'reconnecting…' : conn.state === 'ended' ? 'finished' : conn.state === 'failed' ? 'stopped' : 'closed'}
        </span>
      </div>

      <StageChips stages={orderedStages} onSelect={jumpToStage} />

      {conn.state === 'reconnecting' ? (
        <Banner kind="ws_lost" title="Live log connection lost — reconnecting">
          Attempt {conn.attempt}
          {conn.message ? ` (${conn.message})` : ''}. The log resumes after line {store.lastSeq} with nothing missed; no action needed unless this persists — then check that the backend is
          running.
        </Banner>
      ) : null}
      {conn.state === 'failed' ? (
        <Banner kind="error" title="The live log stopped">
          {conn.message ?? 'The server refused the stream.'} Reload the page or pick the run again from the history.
        </Banner>
      ) : null}

      <div className="log-toolbar" role="toolbar" aria-label="Log controls">
        <button type="button" className="button button--small" onClick={() => setFollow((f) => !f)} aria-pressed={follow}>
          {follow ? 'Pause follow' : 'Resume follow'}
        </button>
        <button type="button" className="button button--small" onClick={() => setCollapsed(new Set(store.sections.map((s) => s.stage)))}>
          Collapse all
        </button>
        <button type="button" className="button button--small" onClick={() => setCollapsed(new Set())}>
          Expand all
        </button>
        <form
          className="log-search"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            goToMatch(matchPos + 1);
          }}
        >
          <label htmlFor={`${uid}-q`} className="visually-hidden">
            Search the log
          </label>
          <input
            id={`${uid}-q`}
            type="search"
            placeholder="Search log"
            value={query}
            onChange={(e) => {
              setQuery(e.target.value);
              setMatchPos(0);
            }}
          />
          <span className="log-search__count" aria-live="polite">
            {query.trim() ? (matches.length ? `${Math.min(matchPos + 1, matches.length)} of ${matches.length}` : 'no matches') : ''}
          </span>
          <button type="button" className="button button--small" onClick={() => goToMatch(matchPos - 1)} disabled={!matches.length} aria-label="Previous match">
            ↑
          </button>
          <button type="submit" className="button button--small" disabled={!matches.length} aria-label="Next match">
            ↓
          </button>
        </form>
        <span className="log-toolbar__count">{store.total.toLocaleString()} lines</span>
      </div>

      <div
        ref={scrollRef}
        className="log-viewport"
        style={{ height }}
        onScroll={onScroll}
        tabIndex={0}
        role="log"
        aria-live="off"
        aria-label={`Log of run ${runId.slice(0, 8)}`}
        data-testid="log-viewport"
      >
        {index.count === 0 ? (
          <p className="log-empty">{conn.state === 'ended' ? 'This run wrote no log lines.' : 'Waiting for log lines…'}</p>
        ) : null}
        <div className="log-canvas" style={{ height: virtualizer.getTotalSize() }}>
          {items.map((item) => {
            const row = index.row(item.index);
            if (!row) return null;
            const style = { transform: `translateY(${item.start}px)`, height: LOG_ROW_HEIGHT };
            if (row.kind === 'header') {
              const st = stages.get(row.section.stage);
              const open = !collapsed.has(row.section.stage);
              return (
                <div key={`h-${row.section.stage}`} className="log-row log-section" style={style}>
                  <button type="button" className="log-section__toggle" aria-expanded={open} onClick={() => toggleSection(row.section.stage)} data-testid={`section-${row.section.stage}`}>
                    <span aria-hidden="true">{open ? '▾' : '▸'}</span> {stageLabel(row.section.stage)}
                    <span className="log-section__count"> · {row.section.lines.length} lines</span>
                  </button>
                  {st ? <StageChip id={st.id} status={st.status} /> : null}
                </div>
              );
            }
            const isActive = activeMatch && activeMatch.stage === row.section.stage && activeMatch.lineIndex === row.lineIndex;
            return (
              <div key={row.entry.seq} className={`log-row log-line${isActive ? ' log-line--active' : ''}`} style={style} data-seq={row.entry.seq}>
                <span className="log-seq" aria-hidden="true">
                  {row.entry.seq}
                </span>
                <span className="log-text">
                  <LogText text={row.entry.text} query={query} />
                </span>
              </div>
            );
          })}
        </div>
      </div>
      {endStatus ? (
        <p className="log-end" data-testid="log-end">
          Stream ended: {RUN_STATUS_LABEL[endStatus]}.
        </p>
      ) : null}
    </section>
  );
}

export default RunLogStream;

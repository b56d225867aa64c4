/** TanStack Query hooks over ApiClient. Query keys are exported for invalidation. */
import { QueryClient, useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { ApiError } from './client.js';
import { useCiApi } from './context.js';
import { isTerminal, type HistoryFilters, type SandboxFaults } from './types.js';

export const ciKeys = {
  me: ['ci', 'me'] as const,
  run: (id: string) => ['ci', 'run', id] as const,
  summary: (id: string) => ['ci', 'summary', id] as const,
  runs: (filters: HistoryFilters) => ['ci', 'runs', filters] as const,
  allRuns: ['ci', 'runs'] as const,
  environments: ['ci', 'environments'] as const,
  envMetrics: (env: string, app: string) => ['ci', 'env-metrics', env, app] as const,
  sandbox: ['ci', 'sandbox'] as const,
};

/** A QueryClient with the defaults the CI components expect: no retry on 4xx. */
export function createCiQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: (count, err) => !(err instanceof ApiError && err.status >= 400 && err.status < 500) && count < 2,
        refetchOnWindowFocus: false,
        staleTime: 2_000,
      },
      mutations: { retry: false },
    },
  });
}

export function useMe() {
  const api = useCiApi();
  return useQuery({ queryKey: ciKeys.me, queryFn: api.me, staleTime: 30_000 });
}

/** Polls while the run is not finished; the WS stream makes the chips live in between. */
export function useRun(id: string | null) {
  const api = useCiApi();
  return useQuery({
    queryKey: ciKeys.run(id ?? ''),
    queryFn: () => api.getRun(id!),
    enabled: !!id,
    refetchInterval: (q) => (q.state.data && isTerminal(q.state.data.status) ? false : 2_000),
  });
}

export function useRunSummary(id: string | null, enabled: boolean) {
  const api = useCiApi();
  return useQuery({ queryKey: ciKeys.summary(id ?? ''), queryFn: () => api.summaryMd(id!), enabled: !!id && enabled, staleTime: Infinity });
}

/** A JSON artifact (summary.json) by its URL; immutable once the run has it. */
export function useArtifactJson(runId: string, href: string | null) {
  return useQuery({
    queryKey: ['ci', 'artifact-json', runId, href],
    queryFn: async () => {
      const res = await fetch(href!, { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (!res.ok) throw new ApiError(res.status, `http_${res.status}`, `GET ${href} answered ${res.status}`);
      return (await res.json()) as unknown;
    },
    enabled: !!href,
    staleTime: Infinity,
  });
}

export function useRunsHistory(filters: HistoryFilters, pageSize = 20) {
  const api = useCiApi();
  return useInfiniteQuery({
    queryKey: ciKeys.runs(filters),
    queryFn: ({ pageParam }) => api.listRuns(filters, pageParam, pageSize),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    refetchInterval: 5_000,
  });
}

export function useEnvironments() {
  const api = useCiApi();
  return useQuery({ queryKey: ciKeys.environments, queryFn: api.environments, refetchInterval: 3_000 });
}

export function useEnvMetrics(env: string, app: string) {
  const api = useCiApi();
  return useQuery({ queryKey: ciKeys.envMetrics(env, app), queryFn: () => api.envMetrics(env, app, 30), refetchInterval: 15_000 });
}

/** 404 means "not the sandbox": the panel stays hidden, nothing is an error. */
export function useSandbox() {
  const api = useCiApi();
  return useQuery({
    queryKey: ciKeys.sandbox,
    queryFn: async () => {
      try {
        return await api.sandbox();
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      }
    },
    staleTime: 10_000,
  });
}

export function useSetFaults() {
  const api = useCiApi();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (faults: Partial<SandboxFaults>) => api.setFaults(faults),
    onSuccess: () => qc.invalidateQueries({ queryKey: ciKeys.sandbox }),
  });
}

/** After a run starts, finishes or is rolled back, everything derived from runs is stale. */
export function useInvalidateRuns() {
  const qc = useQueryClient();
  return () => {
    void qc.invalidateQueries({ queryKey: ciKeys.allRuns });
    void qc.invalidateQueries({ queryKey: ciKeys.environments });
    void qc.invalidateQueries({ queryKey: ['ci', 'env-metrics'] });
  };
}

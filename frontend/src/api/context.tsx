/**
 * Where the components find the API. Mount <CiApiProvider> once (inside a
 * TanStack QueryClientProvider); every CI component reads the client from it.
 */
import { createContext, useContext, useMemo, type ReactNode } from 'react';
import { ApiClient, type ApiClientOptions } from './client.js';

const ApiContext = createContext<ApiClient | null>(null);

export function CiApiProvider({ baseUrl, client, children }: { baseUrl?: string; client?: ApiClient; children: ReactNode }) {
  const value = useMemo(() => client ?? new ApiClient({ baseUrl } satisfies ApiClientOptions), [client, baseUrl]);
  return <ApiContext.Provider value={value}>{children}</ApiContext.Provider>;
}

/** Falls back to a same-origin client, so a component works without the provider too. */
const defaultClient = new ApiClient();
export function useCiApi(): ApiClient {
  return useContext(ApiContext) ?? defaultClient;
}

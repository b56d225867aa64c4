/**
 * The standalone app: the providers the CI components need, around CiPage.
 * An existing QA Intelligence app mounts CiPage (or single components) inside
 * its own QueryClientProvider instead; see docs/frontend.md.
 */
import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { CiApiProvider } from './api/context.js';
import { createCiQueryClient } from './api/hooks.js';
import { AnnouncerProvider } from './lib/announce.js';
import { CiPage, type CiPageProps } from './pages/ci/index.js';

export function CiApp({ baseUrl = '', queryClient, ...page }: CiPageProps & { baseUrl?: string; queryClient?: QueryClient }) {
  const [client] = useState(() => queryClient ?? createCiQueryClient());
  return (
    <QueryClientProvider client={client}>
      <CiApiProvider baseUrl={baseUrl}>
        <AnnouncerProvider>
          <CiPage {...page} />
        </AnnouncerProvider>
      </CiApiProvider>
    </QueryClientProvider>
  );
}

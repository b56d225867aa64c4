/**
 * Theme: dark by default, light or "follow the system" on request; the choice
 * persists in localStorage and is applied as <html data-theme="dark|light">,
 * which switches the CSS custom properties in styles.css.
 */
import { useCallback, useEffect, useState } from 'react';

export type ThemeChoice = 'dark' | 'light' | 'system';
export const THEME_STORAGE_KEY = 'qa-ci-theme';

export function readThemeChoice(): ThemeChoice {
  try {
    const v = localStorage.getItem(THEME_STORAGE_KEY);
    return v === 'light' || v === 'system' || v === 'dark' ? v : 'dark';
  } catch {
    return 'dark';
  }
}

function systemPrefersLight(): boolean {
  return typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: light)').matches;
}

export function resolveTheme(choice: ThemeChoice): 'dark' | 'light' {
  return choice === 'system' ? (systemPrefersLight() ? 'light' : 'dark') : choice;
}

export function applyTheme(choice: ThemeChoice, root: HTMLElement = document.documentElement): void {
  root.dataset.theme = resolveTheme(choice);
}

export function useTheme(): [ThemeChoice, (c: ThemeChoice) => void] {
  const [choice, setChoice] = useState<ThemeChoice>(readThemeChoice);
  useEffect(() => {
    applyTheme(choice);
    if (choice !== 'system' || typeof matchMedia !== 'function') return;
    const mq = matchMedia('(prefers-color-scheme: light)');
    const onChange = () => applyTheme('system');
    mq.addEventListener('change', onChange);
    return () => mq.removeEventListener('change', onChange);
  }, [choice]);
  const set = useCallback((c: ThemeChoice) => {
    try {
      localStorage.setItem(THEME_STORAGE_KEY, c);
    } catch {
      // Private mode: the choice lasts for this page only.
    }
    setChoice(c);
  }, []);
  return [choice, set];
}

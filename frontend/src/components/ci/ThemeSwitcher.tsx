/** Dark (default) / light / system, persisted in localStorage. */
import { useId } from 'react';
import { useTheme, type ThemeChoice } from '../../lib/theme.js';

export function ThemeSwitcher() {
  const [choice, setChoice] = useTheme();
  const id = useId();
  return (
    <div className="theme-switcher">
      <label htmlFor={id}>Theme</label>
      <select id={id} value={choice} onChange={(e) => setChoice(e.target.value as ThemeChoice)} data-testid="theme-select">
        <option value="dark">Dark</option>
        <option value="light">Light</option>
        <option value="system">System</option>
      </select>
    </div>
  );
}

import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { CiApp } from './App.js';
import { applyTheme, readThemeChoice } from './lib/theme.js';
import './styles.css';

// Before the first render, so a light-theme user sees no dark flash.
applyTheme(readThemeChoice());

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <CiApp />
  </StrictMode>,
);

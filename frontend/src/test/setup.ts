import '@testing-library/jest-dom/vitest';
import { cleanup, configure } from '@testing-library/react';
import { afterEach } from 'vitest';

// The machine is shared: give findBy/waitFor room before they give up (they return as soon as the condition holds).
configure({ asyncUtilTimeout: 10_000 });

afterEach(() => {
  cleanup();
  localStorage.clear();
  history.replaceState(null, '', '/');
});

// jsdom does no layout: give scroll containers a viewport so the virtual list
// renders rows, and let scrollTo move scrollTop as a browser would.
Object.defineProperty(HTMLElement.prototype, 'clientHeight', { configurable: true, get: () => 400 });
Object.defineProperty(HTMLElement.prototype, 'clientWidth', { configurable: true, get: () => 800 });
// scrollHeight: the tallest child's inline height (the virtual list's canvas sets one).
Object.defineProperty(HTMLElement.prototype, 'scrollHeight', {
  configurable: true,
  get(this: HTMLElement) {
    let h = 400;
    for (const c of Array.from(this.children)) h = Math.max(h, parseFloat((c as HTMLElement).style?.height || '0') || 0);
    return h;
  },
});
const scrollTops = new WeakMap<Element, number>();
Object.defineProperty(Element.prototype, 'scrollTop', {
  configurable: true,
  get(this: Element) {
    return scrollTops.get(this) ?? 0;
  },
  set(this: Element, v: number) {
    scrollTops.set(this, v);
  },
});
Element.prototype.scrollTo = function (this: Element, opts?: ScrollToOptions | number, y?: number) {
  const top = typeof opts === 'number' ? y : opts?.top;
  if (typeof top === 'number') {
    (this as HTMLElement).scrollTop = top;
    this.dispatchEvent(new Event('scroll'));
  }
} as Element['scrollTo'];

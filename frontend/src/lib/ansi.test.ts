import { describe, expect, it } from 'vitest';
import { parseAnsi, stripAnsi } from './ansi.js';

const ESC = '\u001b';

describe('parseAnsi', () => {
  it('turns SGR colours into class names and resets at 0', () => {
    expect(parseAnsi(`${ESC}[31mERROR${ESC}[0m done`)).toEqual([
      { text: 'ERROR', className: 'ansi-fg-1' },
      { text: ' done', className: '' },
    ]);
  });
  it('combines bold, bright foreground and background', () => {
    expect(parseAnsi(`${ESC}[1;92;44mok`)).toEqual([{ text: 'ok', className: 'ansi-fg-10 ansi-bg-4 ansi-bold' }]);
  });
  it('maps the first 16 of 256 colours and drops the rest and truecolour', () => {
    expect(parseAnsi(`${ESC}[38;5;3ma${ESC}[0m${ESC}[38;5;200mb${ESC}[38;2;1;2;3mc${ESC}[38;5;12md`)).toEqual([
      { text: 'a', className: 'ansi-fg-3' },
      { text: 'bc', className: '' },
      { text: 'd', className: 'ansi-fg-12' },
    ]);
  });
  it('drops cursor movements and OSC titles, keeping the text', () => {
    expect(parseAnsi(`${ESC}[2K${ESC}]0;title\u0007plain`)).toEqual([{ text: 'plain', className: '' }]);
  });
  it('keeps markup-looking text as text', () => {
    expect(parseAnsi('<script>alert(1)</script>')).toEqual([{ text: '<script>alert(1)</script>', className: '' }]);
  });
  it('stripAnsi leaves what a reader sees', () => {
    expect(stripAnsi(`${ESC}[33mwarn${ESC}[39m: disk`)).toBe('warn: disk');
  });
});

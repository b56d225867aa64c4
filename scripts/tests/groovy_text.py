"""Just enough Groovy lexing to test the Jenkinsfile's text against the pipeline contract.

npm-groovy-lint checks Groovy syntax but not declarative-pipeline meaning, so the contract test reads the file
itself. `GroovyText` separates code from string literals and comments: `code` is the source with every string
and comment blanked out (same length, so positions line up) and `strings` lists each literal with its kind and
its decoded value. Structure is then found with regular expressions on `code`, where braces inside strings (for
example PowerShell's `@{}`) can no longer confuse the brace matching.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", "'": "'", '"': '"', "$": "$", "/": "/"}


@dataclass
class StringLit:
    start: int
    end: int  # exclusive
    kind: str  # "'", "'''", '"', '"""', "/"
    raw: str  # between the quotes, undecoded
    value: str  # decoded as Groovy would

    @property
    def interpolated(self) -> bool:
        """A GString with a `$` (double-quoted kinds only): Groovy would interpolate it."""
        return self.kind in ('"', '"""') and re.search(r"(?<!\\)\$", self.raw) is not None


def decode(raw: str, kind: str) -> str:
    if kind == "/":
        return raw.replace("\\/", "/")
    out, i = [], 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt not in ESCAPES:
                raise ValueError(f"invalid escape \\{nxt} in a Groovy string (Groovy refuses it at compile time)")
            out.append(ESCAPES[nxt])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


class GroovyText:
    def __init__(self, source: str):
        self.source = source
        self.strings: List[StringLit] = []
        code = list(source)
        i, n = 0, len(source)
        if source.startswith("#!"):  # the shebang line is not Groovy
            i = source.find("\n") if "\n" in source else n
            self._blank(code, 0, i)
        while i < n:
            c = source[i]
            if source.startswith("//", i) and not self._after_regex_operator(code, i):
                j = source.find("\n", i)
                j = n if j < 0 else j
                self._blank(code, i, j)
                i = j
                continue
            if source.startswith("/*", i):
                j = source.find("*/", i + 2)
                if j < 0:
                    raise ValueError(f"unterminated /* comment at offset {i}")
                self._blank(code, i, j + 2)
                i = j + 2
                continue
            for quote in ("'''", '"""', "'", '"'):
                if source.startswith(quote, i):
                    j = self._string_end(source, i + len(quote), quote)
                    raw = source[i + len(quote):j]
                    self.strings.append(StringLit(i, j + len(quote), quote, raw, decode(raw, quote)))
                    self._blank(code, i, j + len(quote), mark=True)
                    i = j + len(quote)
                    break
            else:
                if c == "/" and self._after_regex_operator(code, i):
                    j = self._string_end(source, i + 1, "/")
                    raw = source[i + 1:j]
                    self.strings.append(StringLit(i, j + 1, "/", raw, decode(raw, "/")))
                    self._blank(code, i, j + 1, mark=True)
                    i = j + 1
                    continue
                i += 1
        self.code = "".join(code)
        self._by_start: Dict[int, StringLit] = {s.start: s for s in self.strings}

    @staticmethod
    def _blank(code: List[str], start: int, end: int, mark: bool = False) -> None:
        for k in range(start, end):
            if code[k] != "\n":
                code[k] = " "
        if mark:
            # Mark a literal's first character so regexes can tell "a string was here" from empty space.
            code[start] = "§"

    @staticmethod
    def _string_end(source: str, i: int, quote: str) -> int:
        n = len(source)
        while i < n:
            if source[i] == "\\":
                i += 2
                continue
            if source.startswith(quote, i):
                return i
            if len(quote) == 1 and quote != "/" and source[i] == "\n":
                raise ValueError(f"newline inside a {quote}-quoted string at offset {i}")
            i += 1
        raise ValueError(f"unterminated {quote} string")

    @staticmethod
    def _after_regex_operator(code: List[str], i: int) -> bool:
        k = i - 1
        while k >= 0 and code[k] in " \t":
            k -= 1
        return k >= 0 and code[k] in "~(,=!&|"

    # ------------------------------------------------------------------ queries

    def string_at(self, pos: int) -> Optional[StringLit]:
        return self._by_start.get(pos)

    def next_string(self, pos: int) -> Optional[StringLit]:
        for s in self.strings:
            if s.start >= pos:
                return s
        return None

    def strings_in(self, start: int, end: int) -> List[StringLit]:
        return [s for s in self.strings if start <= s.start and s.end <= end]

    def matching(self, open_pos: int) -> int:
        """Index of the bracket closing the one at open_pos (in code, so strings do not count)."""
        pairs = {"{": "}", "(": ")", "[": "]"}
        opener = self.code[open_pos]
        closer = pairs[opener]
        depth = 0
        for k in range(open_pos, len(self.code)):
            ch = self.code[k]
            if ch == opener:
                depth += 1
            elif ch == closer:
                depth -= 1
                if depth == 0:
                    return k
        raise ValueError(f"unbalanced {opener} at offset {open_pos}")

    def block(self, pattern: str, start: int = 0, end: Optional[int] = None) -> Tuple[int, int]:
        """(open, close) of the `{...}` that follows the first match of `pattern` in code[start:end]."""
        m = re.compile(pattern).search(self.code, start, len(self.code) if end is None else end)
        if not m:
            raise AssertionError(f"no {pattern!r} block in the Jenkinsfile")
        open_pos = self.code.index("{", m.end() - 1 if self.code[m.end() - 1] == "{" else m.end())
        return open_pos, self.matching(open_pos)

    def calls(self, name: str, start: int = 0, end: Optional[int] = None) -> List[Tuple[int, int, int]]:
        """(name position, open paren, close paren) of every `name(...)` call in code[start:end]."""
        found = []
        for m in re.finditer(r"(?<![\w.])" + re.escape(name) + r"\s*\(", self.code[: len(self.code) if end is None else end]):
            if m.start() < start:
                continue
            open_pos = m.end() - 1
            found.append((m.start(), open_pos, self.matching(open_pos)))
        return found

    def line_of(self, pos: int) -> int:
        return self.source.count("\n", 0, pos) + 1

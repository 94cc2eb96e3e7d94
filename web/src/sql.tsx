// Syntax highlighting for the commands a review or a replay shows: keywords, strings,
// numbers and comments of SQL (and shell-like text), with no dependency. The text is
// rendered as React text nodes, never as HTML.
import { Code } from '@mantine/core';

const KEYWORDS = new Set(('select from where and or not insert into values update set delete truncate drop table create alter ' +
  'grant revoke join left right inner outer on as order by group having limit offset returning with union all distinct ' +
  'is null in like between case when then else end begin commit rollback index view cascade exists primary key default').split(' '));

const TOKEN = /(--[^\n]*|\/\*[\s\S]*?\*\/)|('(?:[^']|'')*'?)|("(?:[^"]|"")*"?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)|(\s+|.)/g;

export function highlight(text: string): React.ReactNode[] {
  const out: React.ReactNode[] = [];
  let m: RegExpExecArray | null;
  let i = 0;
  TOKEN.lastIndex = 0;
  while ((m = TOKEN.exec(text)) !== null) {
    const [t, comment, str, ident, num, word] = m;
    const key = i++;
    if (comment) out.push(<span key={key} className="tok-comment">{t}</span>);
    else if (str) out.push(<span key={key} className="tok-string">{t}</span>);
    else if (ident) out.push(<span key={key} className="tok-ident">{t}</span>);
    else if (num) out.push(<span key={key} className="tok-number">{t}</span>);
    else if (word && KEYWORDS.has(word.toLowerCase())) out.push(<span key={key} className="tok-keyword">{t}</span>);
    else out.push(t);
  }
  return out;
}

export function CommandText({ text, label }: { text: string; label?: string }) {
  return (
    <Code block aria-label={label ?? 'command'} className="command-text">
      {highlight(text)}
    </Code>
  );
}

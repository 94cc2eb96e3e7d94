// A command for an SSH target as the policy sees it: the text the target's shell will run,
// split into the simple commands it chains (`;`, `&&`, `||`, `|`, `&`, newlines), each as
// its words (quotes and backslashes resolved the way a POSIX shell reads them). Rules match
// those words with `commands` globs. What the text hides from such a reading is opaque and
// falls to onUnknown: command or process substitution, backquotes, an unterminated quote,
// and a command word that is itself an expansion (`$CMD args`). The classifier cannot know
// what an alias or a script does: `commands` judges the words as written.
import type { Classification, Statement } from '../sql/types.ts';
import { opaqueCommand } from './target-functions.ts';

const SEPARATORS = new Set([';', '&', '|', '\n']);
const KEYWORDS = new Set(['{', '}', '!', 'if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'time']);

/** The simple commands of a shell line, as words; a string when they cannot be known. */
export function shellCommands(text: string): string[][] | string {
  const out: string[][] = [];
  let words: string[] = [];
  let word = '';
  let inWord = false;
  const endWord = () => {
    // shell keywords and variable assignments before a command are not its words
    const lead = words.length === 0 && (KEYWORDS.has(word) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(word));
    if (inWord && !lead) words.push(word);
    word = '';
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length) out.push(words);
    words = [];
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '`') return 'a backquoted command substitution';
    if (ch === '$' && text[i + 1] === '(') return 'a command substitution $(...)';
    if ((ch === '<' || ch === '>') && text[i + 1] === '(') return 'a process substitution';
    if (ch === '$' && !inWord && words.length === 0) return 'a command word that is an expansion';
    if (ch === '\\') {
      if (i + 1 < text.length && text[i + 1] !== '\n') word += text[i + 1];
      i++;
      inWord = true;
      continue;
    }
    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end === -1) return 'an unterminated quote';
      word += text.slice(i + 1, end);
      i = end;
      inWord = true;
      continue;
    }
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') {
        const c = text[j]!;
        if (c === '`' || (c === '$' && text[j + 1] === '(')) return 'a command substitution inside double quotes';
        if (c === '\\' && j + 1 < text.length && '"\\$`\n'.includes(text[j + 1]!)) {
          word += text[j + 1];
          j += 2;
          continue;
        }
        word += c;
        j++;
      }
      if (j >= text.length) return 'an unterminated quote';
      i = j;
      inWord = true;
      continue;
    }
    if (SEPARATORS.has(ch) || ch === '(' || ch === ')') {
      endCommand();
      continue;
    }
    if (ch === ' ' || ch === '\t') {
      endWord();
      continue;
    }
    word += ch;
    inWord = true;
  }
  endCommand();
  return out;
}

export function classifySsh(text: string): Classification {
  const commands = shellCommands(text);
  if (typeof commands === 'string') return opaqueCommand(`the command line holds ${commands}, which cannot be judged from its text`);
  const statements: Statement[] = commands.map((argv) => ({
    // what a shell command does cannot be read from its words: it may write
    kind: 'other', category: 'write', node: argv[0]!.split('/').pop()!, tables: [], functions: [], noWhere: false, opaque: false, nested: [], ssh: { argv },
  }));
  // An empty line (a shell opened with nothing to run) is one statement with no words.
  if (!statements.length) statements.push({ kind: 'other', category: 'write', node: '', tables: [], functions: [], noWhere: false, opaque: false, nested: [], ssh: { argv: [] } });
  return { key: text, fingerprint: '', hasExecute: false, statements };
}

/** File operations that only read (the rest change the target: category write). */
const FILE_READS = new Set(['get', 'ls']);

/**
 * The file operations of an SFTP or SCP session, each judged like a shell command of those
 * words (`put /etc/hosts`; an operation on two paths comes as one statement per path,
 * `rename /tmp/a` and `rename /etc/a`): `commands` globs meet them as they meet an exec.
 * Downloads and listings are reads; uploads and every change are writes.
 */
export function classifyFileOps(ops: readonly string[][]): Classification {
  const statements: Statement[] = ops.map((argv) => ({
    kind: 'other', category: FILE_READS.has(argv[0]!) ? 'read' : 'write', node: argv[0]!, tables: [], functions: [], noWhere: false, opaque: false, nested: [], ssh: { argv: [...argv] },
  }));
  // its own cache key space: `get x` over SFTP is a read, the shell line `get x` is not
  return { key: `\u0004file\u0000${ops.map((o) => o.join('\u0000')).join('\u0001')}`, fingerprint: '', hasExecute: false, statements };
}

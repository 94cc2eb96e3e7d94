// Component tests: the command highlighter renders text (never markup) with its tokens
// marked, and the review page gives the requester no Approve button that works, while an
// approver's click posts the vote with the console's CSRF header.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { act } from 'react';
import { CommandText } from './sql.tsx';
import { render, settle } from './test-render.tsx';
import { Reviews } from './pages/Reviews.tsx';
import type { Me, Review } from './api.ts';

afterEach(() => {
  vi.unstubAllGlobals();
  document.body.innerHTML = '';
});

describe('CommandText', () => {
  test('marks keywords, strings, numbers and comments', async () => {
    const { container } = await render(<CommandText text={"SELECT name FROM t WHERE id = 42 AND note = 'x' -- why"} />);
    expect([...container.querySelectorAll('.tok-keyword')].map((e) => e.textContent)).toEqual(['SELECT', 'FROM', 'WHERE', 'AND']);
    expect(container.querySelector('.tok-number')?.textContent).toBe('42');
    expect(container.querySelector('.tok-string')?.textContent).toBe("'x'");
    expect(container.querySelector('.tok-comment')?.textContent).toBe('-- why');
    expect(container.textContent).toContain("SELECT name FROM t WHERE id = 42 AND note = 'x' -- why");
  });

  test('a command holding markup is shown as text, not run as HTML', async () => {
    const evil = `SELECT '<img src=x onerror="alert(1)">' FROM t`;
    const { container } = await render(<CommandText text={evil} />);
    expect(container.querySelector('img')).toBeNull();
    expect(container.textContent).toContain('<img src=x onerror="alert(1)">');
  });
});

const review: Review = {
  id: 'r0123456789ab', kind: 'command', status: 'pending', connection: 'app', command: 'DELETE FROM t', params: null, commandHash: 'h',
  reason: 'held for review by rule "no-where"', rule: 'no-where', requester: { kind: 'apikey', subject: 'k-alice', name: 'alice', groups: ['dev'] },
  sessionId: null, groups: ['approver'], approvalsNeeded: 1, approvals: 0, votes: [], durationMs: null,
  createdAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 60_000).toISOString(), decidedAt: null,
};

function stubGateway(calls: { url: string; init?: RequestInit }[]) {
  vi.stubGlobal('EventSource', class { addEventListener() {} close() {} onopen = null; onerror = null; });
  vi.stubGlobal('fetch', vi.fn(async (url: string, init?: RequestInit) => {
    calls.push({ url, init });
    const body = url.startsWith('/api/v1/reviews/r0123456789ab/approve') ? { ...review, status: 'approved' } : url.startsWith('/api/v1/reviews/r0') ? review : [review];
    return new Response(JSON.stringify(body), { status: 200 });
  }));
}

describe('Reviews', () => {
  test('the requester cannot approve their own review (the button is disabled)', async () => {
    stubGateway([]);
    const alice: Me = { kind: 'apikey', subject: 'k-alice', name: 'alice', groups: ['dev'], roles: ['user'] };
    const { container } = await render(<Reviews me={alice} selected="r0123456789ab" />);
    await settle();
    const approve = [...container.querySelectorAll('button')].find((b) => b.textContent === 'Approve')!;
    expect(approve).toBeTruthy();
    expect(approve.disabled).toBe(true);
    expect(container.textContent).toContain('You asked for this');
  });

  test('a viewer outside the review groups is offered no vote', async () => {
    stubGateway([]);
    const audrey: Me = { kind: 'apikey', subject: 'k-audrey', name: 'audrey', groups: ['auditor'], roles: ['auditor', 'user'] };
    const { container } = await render(<Reviews me={audrey} selected="r0123456789ab" />);
    await settle();
    expect([...container.querySelectorAll('button')].some((b) => b.textContent === 'Approve' || b.textContent === 'Reject')).toBe(false);
    expect(container.textContent).toContain('Only members of approver may decide');
  });

  test("an approver's click posts the vote and the comment with the console header", async () => {
    const calls: { url: string; init?: RequestInit }[] = [];
    stubGateway(calls);
    const bob: Me = { kind: 'apikey', subject: 'k-bob', name: 'bob', groups: ['approver'], roles: ['approver', 'user'] };
    const { container } = await render(<Reviews me={bob} selected="r0123456789ab" />);
    await settle();
    const approve = [...container.querySelectorAll('button')].find((b) => b.textContent === 'Approve')!;
    expect(approve.disabled).toBe(false);
    await act(async () => approve.click());
    await settle();
    const vote = calls.find((c) => c.url.endsWith('/approve'))!;
    expect(vote.init?.method).toBe('POST');
    expect((vote.init?.headers as Record<string, string>)['x-warden-console']).toBe('1');
    expect(JSON.parse(String(vote.init?.body))).toEqual({ comment: null });
  });
});

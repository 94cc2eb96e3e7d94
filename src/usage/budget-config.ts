// The `budget` key of an http connection: LLM tokens (input + output) a UTC day may spend on
// it, in total and per identity, and what a request that names no `max_tokens` reserves
// (and is cut at). A request reserves its worst case before it leaves (src/usage/ledger.ts).
import { z } from 'zod';

const tokens = z.number().int().positive();

export const llmBudgetSchema = z
  .strictObject({
    /** all identities together on this connection, per UTC day */
    tokensPerDay: tokens.optional(),
    /** each identity on this connection, per UTC day */
    perIdentityTokensPerDay: tokens.optional(),
    /** the output a request without max_tokens (max_completion_tokens) may use; it is cut there */
    defaultMaxTokens: tokens.default(4096),
    /** the largest request body read to find model and max_tokens; a larger one is refused */
    maxRequestBytes: tokens.default(4 << 20),
  })
  .refine((b) => b.tokensPerDay !== undefined || b.perIdentityTokensPerDay !== undefined, {
    message: 'set tokensPerDay, perIdentityTokensPerDay or both',
  });

export type LlmBudgetConfig = z.infer<typeof llmBudgetSchema>;

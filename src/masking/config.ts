// The `masking:` section of warden.yaml (and the same keys per connection, which
// override the global ones). Defaults sit next to each key.
//
//   masking:
//     enabled: true
//     entities: [all]              # types or groups: pii, financial, secrets, network, all
//     style: redact                # redact | partial | hash
//     styles: { email: partial }   # per entity
//     columns:                     # by name glob, table.column or schema.table.column
//       - { match: '*_token' }
//       - { match: users.ssn, style: partial, entity: ssn }
//       - { match: '*.id', action: skip }
//     custom:
//       - { name: employee_id, regex: 'EMP-\d{6}' }
//       - { name: project, denyList: [Bluebird, Nightjar] }
//     hmacKey: ${env:WARDEN_MASK_KEY}
import { z } from 'zod';
import { expandEntities, isBuiltin } from './entities.ts';

export const maskingStyleSchema = z.enum(['redact', 'partial', 'hash']);

export const columnRuleSchema = z.strictObject({
  /** `password`, `*_token`, `users.ssn`, `public.users.ssn`; `*` and `?` globs, case-insensitive */
  match: z.string().min(1),
  /** mask: always replace the whole value; scan: run the detectors even on a non-text type; skip: never touch */
  action: z.enum(['mask', 'scan', 'skip']).default('mask'),
  /** entity the masked value stands for (label and partial form); guessed from the name when absent */
  entity: z.string().min(1).optional(),
  style: maskingStyleSchema.optional(),
});

export const customEntitySchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,40}$/, 'a letter, then letters, digits or "_"'),
    regex: z.string().min(1).optional(),
    /** extra RegExp flags: i, m, s, u */
    flags: z.string().regex(/^[imsu]*$/, 'only the flags i, m, s, u').optional(),
    denyList: z.array(z.string().min(1)).min(1).optional(),
    caseSensitive: z.boolean().optional(),
    style: maskingStyleSchema.optional(),
  })
  .superRefine((e, ctx) => {
    if ((e.regex === undefined) === (e.denyList === undefined)) ctx.addIssue({ code: 'custom', message: 'give exactly one of regex or denyList' });
    if (isBuiltin(e.name.toLowerCase())) ctx.addIssue({ code: 'custom', path: ['name'], message: `"${e.name}" is a built-in entity` });
    if (e.regex !== undefined) {
      try {
        new RegExp(e.regex, e.flags);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['regex'], message: `not a valid regular expression: ${(err as Error).message}` });
      }
    }
  });

// The keys, without defaults: the per-connection override uses them as they are.
const keys = {
  enabled: z.boolean(),
  entities: z.array(z.string().min(1)),
  style: maskingStyleSchema,
  styles: z.record(z.string(), maskingStyleSchema),
  columns: z.array(columnRuleSchema),
  /** the built-in column rules (password, *_token, ssn, dob...) */
  defaultColumns: z.boolean(),
  custom: z.array(customEntitySchema),
  /** key of the `hash` style; without one a random key per process (hashes change on restart) */
  hmacKey: z.string().min(16, 'at least 16 characters'),
  /** what a masked value of a non-text column (int, date, uuid...) becomes: NULL or a typed placeholder (0, 1900-01-01...) */
  typedReplacement: z.enum(['null', 'placeholder']),
  /** store the original values encrypted next to the masked record (auditors may reveal them) */
  keepOriginals: z.boolean(),
};

function checkEntities(c: { entities?: string[]; custom?: { name: string }[]; styles?: Record<string, unknown> }, ctx: z.RefinementCtx): void {
  const customNames = new Set((c.custom ?? []).map((e) => e.name.toLowerCase()));
  const { unknown } = expandEntities(c.entities ?? []);
  unknown.forEach((name) => {
    if (!customNames.has(name.toLowerCase())) {
      ctx.addIssue({ code: 'custom', path: ['entities'], message: `unknown entity or group "${name}" (types: email, phone, card, iban, ssn, ip, dob, aws_access_key, aws_secret_key, api_token, jwt, private_key, password, secret; groups: pii, financial, secrets, network, all)` });
    }
  });
  for (const k of Object.keys(c.styles ?? {})) {
    if (!isBuiltin(k) && !customNames.has(k.toLowerCase())) ctx.addIssue({ code: 'custom', path: ['styles', k], message: `unknown entity "${k}"` });
  }
}

export const maskingConfigSchema = z
  .strictObject({
    enabled: keys.enabled.default(true),
    entities: keys.entities.default(['all']),
    style: keys.style.default('redact'),
    styles: keys.styles.default({}),
    columns: keys.columns.default([]),
    defaultColumns: keys.defaultColumns.default(true),
    custom: keys.custom.default([]),
    hmacKey: keys.hmacKey.optional(),
    typedReplacement: keys.typedReplacement.default('null'),
    keepOriginals: keys.keepOriginals.default(false),
  })
  .superRefine(checkEntities)
  .prefault({});

/** `masking:` inside a connection: any key of the global section, overriding it. */
export const connectionMaskingSchema = z.strictObject(keys).partial().superRefine(checkEntities);

export type MaskingConfig = z.infer<typeof maskingConfigSchema>;
export type MaskingInput = z.input<typeof maskingConfigSchema>;
export type ConnectionMasking = z.infer<typeof connectionMaskingSchema>;
export type ColumnRule = z.infer<typeof columnRuleSchema>;
export type CustomEntityConfig = z.infer<typeof customEntitySchema>;

/**
 * The effective policy of one connection: its scalars override the global ones; its
 * column rules come first (first match wins) and its custom entities add to the global ones.
 */
export function resolveMaskingConfig(global: MaskingConfig, conn?: ConnectionMasking): MaskingConfig {
  if (!conn) return global;
  return {
    ...global,
    ...Object.fromEntries(Object.entries(conn).filter(([, v]) => v !== undefined)),
    styles: { ...global.styles, ...conn.styles },
    columns: [...(conn.columns ?? []), ...global.columns],
    custom: [...global.custom.filter((g) => !conn.custom?.some((c) => c.name === g.name)), ...(conn.custom ?? [])],
  };
}

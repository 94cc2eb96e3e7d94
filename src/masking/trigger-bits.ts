// The prefilter's trigger bits: one per detector (scanner.ts runs them in this order).
export const T_EMAIL = 1 << 0;
export const T_URL_PASSWORD = 1 << 1;
export const T_KEYWORD = 1 << 2;
export const T_PHONE = 1 << 3;
export const T_CARD = 1 << 4;
export const T_SSN = 1 << 5;
export const T_IBAN = 1 << 6;
export const T_IPV4 = 1 << 7;
export const T_IPV6 = 1 << 8;
export const T_TOKEN = 1 << 9;
export const T_PEM = 1 << 10;
export const T_DOB = 1 << 11;
/** Not a trigger: the text holds a character beyond ASCII (bytes: must be decoded as UTF-8, not latin1). */
export const T_NON_ASCII = 1 << 30;

/**
 * The ASCII bytes text protocols are delimited by, by name, so that a scanner
 * reads `b[i] === COLON` rather than a bare number. Importers copy the ones
 * they use into module-local consts (see "Module bindings" in README.md).
 */

export const CR = 0x0d;
export const LF = 0x0a;
export const SP = 0x20;
export const HT = 0x09;
export const COLON = 0x3a;
export const SEMI = 0x3b;
export const COMMA = 0x2c;
export const SLASH = 0x2f;
export const EQUAL = 0x3d;
export const DQUOTE = 0x22;
export const BACKSLASH = 0x5c;
export const LAQUOT = 0x3c;
export const RAQUOT = 0x3e;
export const AT = 0x40;
export const QUESTION = 0x3f;
export const LBRACKET = 0x5b;
export const RBRACKET = 0x5d;
export const DOT = 0x2e;
export const STAR = 0x2a;

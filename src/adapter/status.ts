/** `fastly_status` values of the legacy ABI, by WITX case name (typenames.witx order). */
export const Status = {
  ok: 0,
  error: 1,
  inval: 2,
  badf: 3,
  buflen: 4,
  unsupported: 5,
  badalign: 6,
  httpinvalid: 7,
  httpuser: 8,
  httpincomplete: 9,
  none: 10,
  httpheadtoolarge: 11,
  httpinvalidstatus: 12,
  limitexceeded: 13,
  again: 14,
} as const;

export type StatusName = keyof typeof Status;

/**
 * How each case of a WIT error type becomes a legacy status. Cases are matched by name, so a
 * new case in the WIT makes generation fail loudly instead of mapping silently.
 * `auxiliary-error` is the host's "that handle is not usable here" and so maps to `badf`;
 * `cannot-read` means "no value", which legacy callers saw as `none`; `open-error.not-found`
 * is likewise `none`, as SDKs test for it when opening stores and dictionaries.
 */
export const ERROR_CASE_STATUS: Readonly<Record<string, Readonly<Record<string, StatusName>>>> = {
  error: {
    'generic-error': 'error',
    'invalid-argument': 'inval',
    'auxiliary-error': 'badf',
    'buffer-len': 'buflen',
    unsupported: 'unsupported',
    'http-invalid': 'httpinvalid',
    'http-user': 'httpuser',
    'http-incomplete': 'httpincomplete',
    'cannot-read': 'none',
    'http-head-too-large': 'httpheadtoolarge',
    'http-invalid-status': 'httpinvalidstatus',
    'limit-exceeded': 'limitexceeded',
  },
  'open-error': {
    'invalid-syntax': 'inval',
    'name-too-long': 'inval',
    reserved: 'inval',
    'not-found': 'none',
    unsupported: 'unsupported',
    'limit-exceeded': 'limitexceeded',
    'generic-error': 'error',
  },
  'trailer-error': {
    'not-available-yet': 'again',
    error: 'error', // refined by the nested `error` payload, see generate
  },
  'acl-error': {
    'too-many-requests': 'limitexceeded',
    'generic-error': 'error',
  },
  'kv-error': {
    'bad-request': 'inval',
    'precondition-failed': 'inval',
    'payload-too-large': 'inval',
    'generic-error': 'error',
    'internal-error': 'error',
    extra: 'error',
    'too-many-requests': 'limitexceeded',
  },
};

import { INVALID_HANDLE, type Mapping, type MethodCall } from '../mapping.js';
import { suggestedCacheOptions } from './suggested-cache-options.js';

const entryGetters = (prefix: string, iface: string, resource: string, names: string[]): Record<string, Mapping> =>
  Object.fromEntries(names.map((n) => [`${prefix}${n}`, `${iface}/${resource}.${n.replace(/_/g, '-')}`]));

export const cache: Record<string, Mapping> = {
  lookup: 'cache/entry.lookup',
  insert: 'cache/insert',
  replace: 'cache/replace-entry.replace',
  replace_insert: 'cache/replace-insert',
  ...entryGetters('replace_', 'cache', 'replace-entry', [
    'get_age_ns',
    'get_body',
    'get_hits',
    'get_length',
    'get_max_age_ns',
    'get_stale_while_revalidate_ns',
    'get_state',
    'get_user_metadata',
  ]),
  transaction_lookup: 'cache/entry.transaction-lookup',
  transaction_lookup_async: 'cache/entry.transaction-lookup-async',
  cache_busy_handle_wait: 'cache/await-entry',
  transaction_insert: 'cache/entry.transaction-insert',
  transaction_insert_and_stream_back: 'cache/entry.transaction-insert-and-stream-back',
  transaction_update: 'cache/entry.transaction-update',
  transaction_cancel: 'cache/entry.transaction-cancel',
  close_busy: 'cache/close-pending-entry',
  close: 'cache/close-entry',
  ...entryGetters('', 'cache', 'entry', [
    'get_state',
    'get_user_metadata',
    'get_body',
    'get_length',
    'get_max_age_ns',
    'get_stale_while_revalidate_ns',
    'get_age_ns',
    'get_hits',
  ]),
};

export const httpCache: Record<string, Mapping> = {
  is_request_cacheable: 'http-cache/is-request-cacheable',
  get_suggested_cache_key: 'http-cache/get-suggested-cache-key',
  lookup: { unsupported: 'the WIT has no non-transactional HTTP-cache lookup (only transaction-lookup, which obliges the guest to insert or abandon)' },
  transaction_lookup: 'http-cache/entry.transaction-lookup',
  transaction_insert: 'http-cache/entry.transaction-insert',
  transaction_insert_and_stream_back: 'http-cache/entry.transaction-insert-and-stream-back',
  transaction_update: 'http-cache/entry.transaction-update',
  transaction_update_and_return_fresh: 'http-cache/entry.transaction-update-and-return-fresh',
  transaction_choose_stale: 'http-cache/entry.transaction-choose-stale',
  transaction_record_not_cacheable: 'http-cache/entry.transaction-record-not-cacheable',
  transaction_abandon: 'http-cache/entry.transaction-abandon',
  close: 'http-cache/close-entry',
  get_suggested_backend_request: 'http-cache/entry.get-suggested-backend-request',
  get_suggested_cache_options: suggestedCacheOptions,
  prepare_response_for_storage: 'http-cache/entry.prepare-response-for-storage',
  get_found_response: 'http-cache/entry.get-found-response',
  ...entryGetters('', 'http-cache', 'entry', [
    'get_state',
    'get_length',
    'get_max_age_ns',
    'get_stale_while_revalidate_ns',
    'get_stale_if_error_ns',
    'get_age_ns',
    'get_hits',
    'get_sensitive_data',
    'get_surrogate_keys',
    'get_vary_rule',
  ]),
};

const NO_BODY = [{ out: 'body_handle_out', value: INVALID_HANDLE }];
const TAKE_BODY: MethodCall = { call: 'kv-store/entry.take-body', out: [{ noneValue: INVALID_HANDLE }, 'body_handle_out'] };

/** A found entry gives its metadata, body and (v2 only: v1 always reported 0) generation. */
const lookupWait = (generation: boolean): Mapping => ({
  call: 'kv-store/await-lookup',
  errorOut: 'kv_error_out',
  initially: NO_BODY,
  out: [
    { noneCase: 'not_found' },
    {
      then: [
        { call: 'kv-store/entry.metadata', args: ['metadata_buf_len'], out: [{ noneValue: 0 }, { buf: 'metadata_buf', nwritten: 'nwritten_out' }] },
        TAKE_BODY,
        ...(generation ? [{ call: 'kv-store/entry.generation', out: ['generation_out'] }] : []),
      ],
    },
  ],
  ...(generation ? {} : { also: [{ out: 'generation_out', value: 0 }] }),
});

/** Legacy hosts answer an unknown KV store `inval` (an unknown object store, to them). */
const UNKNOWN_KV_STORE: Mapping = { call: 'kv-store/store.open', errorAs: { 'not-found': 'inval' } };

export const kvStore: Record<string, Mapping> = {
  open: UNKNOWN_KV_STORE,
  lookup: { call: 'kv-store/store.lookup-async', args: ['store', 'key'] },
  lookup_wait: lookupWait(false),
  lookup_wait_v2: lookupWait(true),
  insert: 'kv-store/store.insert-async',
  insert_wait: { call: 'kv-store/await-insert', errorOut: 'kv_error_out' },
  delete: { call: 'kv-store/store.delete-async', args: ['store', 'key'] },
  delete_wait: { call: 'kv-store/await-delete', errorOut: 'kv_error_out', out: [{ falseCase: 'not_found' }] },
  list: 'kv-store/store.list-async',
  list_wait: { call: 'kv-store/await-list', errorOut: 'kv_error_out', initially: NO_BODY },
};

/**
 * The first KV API: a missing key (and, as its host did, a bad request) is success with an
 * invalid body handle; inserts overwrite with default options.
 */
const objectLookup = (call: string): Mapping => ({
  call,
  initially: NO_BODY,
  okOnError: ['bad-request'],
  out: [{ noneStatus: 'ok' }, { then: [TAKE_BODY] }],
});

export const objectStore: Record<string, Mapping> = {
  open: UNKNOWN_KV_STORE,
  lookup: objectLookup('kv-store/store.lookup'),
  lookup_async: 'kv-store/store.lookup-async',
  pending_lookup_wait: objectLookup('kv-store/await-lookup'),
  insert: { call: 'kv-store/store.insert', args: ['store', 'key', 'body_handle', { empty: true }] },
  insert_async: { call: 'kv-store/store.insert-async', args: ['store', 'key', 'body_handle', { empty: true }] },
  pending_insert_wait: 'kv-store/await-insert',
  delete_async: 'kv-store/store.delete-async',
  pending_delete_wait: { call: 'kv-store/await-delete', out: [{ skip: true }] },
};

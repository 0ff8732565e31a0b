import type { Mapping } from '../mapping.js';

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
  lookup: { unsupported: 'the WIT offers only the transactional lookup' },
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
  get_suggested_cache_options: { unsupported: 'suggested-write-options resource to out-mask/struct not yet mapped' },
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

export const kvStore: Record<string, Mapping> = {
  open: 'kv-store/store.open',
  lookup: { call: 'kv-store/store.lookup-async', args: ['store', 'key'] },
  lookup_wait: { unsupported: 'kv-error out-param mapping not yet written' },
  lookup_wait_v2: { unsupported: 'kv-error out-param mapping not yet written' },
  insert: { unsupported: 'kv insert options not yet mapped' },
  insert_wait: { unsupported: 'kv-error out-param mapping not yet written' },
  delete: { call: 'kv-store/store.delete-async', args: ['store', 'key'] },
  delete_wait: { unsupported: 'kv-error out-param mapping not yet written' },
  list: { unsupported: 'kv list options not yet mapped' },
  list_wait: { unsupported: 'kv-error out-param mapping not yet written' },
};

export const objectStore: Record<string, Mapping> = {
  open: 'kv-store/store.open',
  lookup: { unsupported: 'needs entry.take-body composition (not yet mapped)' },
  lookup_async: 'kv-store/store.lookup-async',
  pending_lookup_wait: { unsupported: 'needs entry.take-body composition (not yet mapped)' },
  insert: { unsupported: 'kv insert options not yet mapped' },
  insert_async: { unsupported: 'kv insert options not yet mapped' },
  pending_insert_wait: { unsupported: 'kv-error mapping not yet written' },
  delete_async: 'kv-store/store.delete-async',
  pending_delete_wait: { unsupported: 'kv-error mapping not yet written' },
};

/* libgda (private) — the memory store as the engine's local cache.
 *
 * gda_memory_store_new (store.h) is an authoritative store: it never forgets
 * a live record. The engine's local LRU in front of a remote store is only a
 * copy of what that store holds, so it may drop a live completed record at
 * any time (the cost is one remote round trip): that is this constructor.
 * Same thread safety and errors as gda_memory_store_new. */
#ifndef GDA_STORE_MEMORY_H
#define GDA_STORE_MEMORY_H

#include <gda/store.h>

gda_store *gda_memory_cache_new(size_t max_entries, gda_error *err);

#endif /* GDA_STORE_MEMORY_H */

/** @file
 * libgda — symbol visibility. The shared library is built with hidden
 * visibility; only declarations marked GDA_API are exported. */
#ifndef GDA_EXPORT_H
#define GDA_EXPORT_H

#if defined(__GNUC__) && defined(GDA_BUILDING_LIBRARY)
/** Marks a declaration as exported from the shared library (default
 * visibility); empty for users of the headers. */
#define GDA_API __attribute__((visibility("default")))
#else
/** Marks a declaration as part of the public API; expands to nothing outside
 * the library's own build. */
#define GDA_API
#endif

#endif /* GDA_EXPORT_H */

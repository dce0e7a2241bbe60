/* libgda — symbol visibility. The shared library is built with hidden
 * visibility; only declarations marked GDA_API are exported. */
#ifndef GDA_EXPORT_H
#define GDA_EXPORT_H

#if defined(__GNUC__) && defined(GDA_BUILDING_LIBRARY)
#define GDA_API __attribute__((visibility("default")))
#else
#define GDA_API
#endif

#endif /* GDA_EXPORT_H */

/* libgda — the running library's version (see include/gda/version.h). */
#include <gda/version.h>

const char *gda_version(void)
{
    return GDA_VERSION_STRING;
}

unsigned gda_version_number(void)
{
    return GDA_VERSION_NUMBER;
}

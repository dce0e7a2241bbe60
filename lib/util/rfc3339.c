/* libgda (private, lib/util) — RFC 3339 timestamps without gmtime_r (see rfc3339.h). */
#include "rfc3339.h"

#include <string.h>

/* Civil date of a day count since 1970-01-01 (proleptic Gregorian). */
static void civil_from_days(int64_t days, int *year, int *month, int *day)
{
    days += 719468; /* from 0000-03-01 */
    int64_t era = days / 146097;
    int64_t doe = days - era * 146097;                                 /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);              /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                   /* [0, 11] */
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (*month <= 2));
}

static void put_digits(char *at, int value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        at[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

bool gda_rfc3339_format_ms(int64_t epoch_ms, char out[GDA_RFC3339_LEN + 1])
{
    out[0] = '\0';
    if (epoch_ms < 0 || epoch_ms > GDA_RFC3339_MAX_MS)
        return false;
    int64_t secs = epoch_ms / 1000;
    int64_t of_day = secs % 86400;
    int year, month, day;
    civil_from_days(secs / 86400, &year, &month, &day);
    memcpy(out, "0000-00-00T00:00:00.000Z", GDA_RFC3339_LEN + 1);
    put_digits(out, year, 4);
    put_digits(out + 5, month, 2);
    put_digits(out + 8, day, 2);
    put_digits(out + 11, (int)(of_day / 3600), 2);
    put_digits(out + 14, (int)(of_day / 60 % 60), 2);
    put_digits(out + 17, (int)(of_day % 60), 2);
    put_digits(out + 20, (int)(epoch_ms % 1000), 3);
    return true;
}

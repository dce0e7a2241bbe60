/* Your own handler: reads one Data Action request on stdin, prints the response. */
#include <stdio.h>
#include <gda/gda.h>

static gda_status tier(const gda_request *req, const gda_ctx *ctx, json_t **data_out,
                       gda_error *err, void *user)
{
    (void)ctx, (void)user;
    const char *caller = gda_request_string(req, "callerId"); /* NULL when absent */
    *data_out = json_pack("{s:s}", "tier", caller ? "gold" : "standard");
    return *data_out ? GDA_OK : gda_error_set(err, GDA_ERR_NOMEM, NULL, "no memory");
}

int main(void)
{
    static char event[65536];
    size_t len = fread(event, 1, sizeof event, stdin);
    gda_error err = {0};
    gda_app_config cfg = gda_app_config_default();
    cfg.handler = tier;
    cfg.direct_invocation_trusted = true; /* only Genesys' Lambda integration invokes it */
    gda_app *app = gda_app_new(&cfg, &err);
    gda_http_request req = {0};
    gda_http_response resp = {0};
    if (app && gda_event_decode(event, len, 0, &req, &err) == GDA_OK)
        gda_app_handle(app, &req, NULL, &resp);
    int status = resp.status;
    printf("%d %s\n", status, resp.body ? resp.body : err.message);
    gda_http_response_release(&resp);
    gda_http_request_release(&req);
    gda_app_free(app);
    return status == 200 ? 0 : 1;
}

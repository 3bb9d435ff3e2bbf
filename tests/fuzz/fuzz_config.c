/*
 * The config reader on arbitrary text: parse, take a driver's secret lines
 * (what follows the first NUL byte, as `run --secrets-fd` reads them),
 * validate, format the proposals back to text, free. Must never crash,
 * leak or read past the input; a config that validated must format in a
 * 4 KiB buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	char err[256], text[4096];
	const uint8_t *nul = memchr(data, 0, size);
	size_t clen = nul ? (size_t)(nul - data) : size;

	if (config_parse_buf("fuzz.conf", (const char *)data, clen, &cfg, err, sizeof(err)) < 0)
		return 0;
	if (nul && config_set_secrets(&cfg, (const char *)nul + 1, size - clen - 1, err,
				      sizeof(err)) < 0)
		return 0;	/* cfg already freed */
	if (config_validate(&cfg, err, sizeof(err)) < 0)
		return 0;	/* cfg already freed */
	if (proposal_list_format(&cfg.tunnel.ike, text, sizeof(text)) < 0 ||
	    proposal_list_format(&cfg.tunnel.esp, text, sizeof(text)) < 0)
		abort();
	if (config_proxy_from_env(&cfg, "http://u:p@proxy:3128", err, sizeof(err)) < 0)
		return 0;
	config_free(&cfg);
	return 0;
}
